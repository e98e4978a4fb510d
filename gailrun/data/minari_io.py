"""Read and write datasets in the Farama Minari format (HDF5), without depending on the minari package.

Layout (Minari 0.5): `<dataset dir>/data/main_data.hdf5` with one group `episode_<i>` per episode holding
`observations` [T+1, ...], `actions`, `rewards`, `terminations`, `truncations` [T] and an `infos` group,
and `<dataset dir>/data/metadata.json` with the spaces, env spec and counts. gailrun's dataset card is kept
in the same metadata under `gailrun_card`, so Minari tools see it too. A dataset placed at
`$MINARI_DATASETS_PATH/<namespace>/<name>-v<k>` is loadable with `minari.load_dataset(id)`.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from gailrun.data.episodes import Episode, content_hash
from gailrun.errors import DataError

MINARI_VERSION = "0.5.4"
DATA_FILE = "main_data.hdf5"
META_FILE = "metadata.json"


@dataclass
class Dataset:
    env_id: str
    episodes: list[Episode]
    card: dict[str, Any] = field(default_factory=dict)
    dataset_id: str = "gailrun/dataset-v0"
    path: Path | None = None

    @property
    def returns(self) -> np.ndarray:
        return np.array([ep.ret for ep in self.episodes], dtype=np.float64)

    @property
    def total_steps(self) -> int:
        return int(sum(ep.length for ep in self.episodes))


def serialize_space(space: gym.Space) -> str:
    """Minari's JSON form of a Box or Discrete space."""
    if isinstance(space, gym.spaces.Box):
        body = {
            "type": "Box",
            "dtype": str(space.dtype),
            "shape": list(space.shape),
            "low": space.low.tolist(),
            "high": space.high.tolist(),
        }
    elif isinstance(space, gym.spaces.Discrete):
        body = {"type": "Discrete", "dtype": "int64", "start": int(space.start), "n": int(space.n)}
    else:
        raise DataError(f"cannot store a {type(space).__name__} space; gailrun datasets use Box and Discrete")
    return json.dumps(body)


def resolve_data_dir(path: str | Path) -> Path:
    """Accept the dataset directory, its `data/` directory or the HDF5 file itself."""
    path = Path(path)
    for candidate in (path / "data", path, path.parent):
        if (candidate / DATA_FILE).is_file():
            return candidate
    if not path.exists():
        raise DataError(
            f"expert dataset {path} does not exist; run `gailrun collect-expert` or fix expert.path"
        )
    raise DataError(
        f"no Minari dataset at {path} (expected {path / 'data' / DATA_FILE}); "
        "convert other formats with `gailrun data import`"
    )


def write_dataset(path: str | Path, dataset: Dataset, overwrite: bool = False) -> Path:
    """Write `dataset` to `path` atomically: built in a temporary sibling, then renamed into place."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise DataError(f"{path} already exists; pass overwrite=true or choose another out=")
    for i, ep in enumerate(dataset.episodes):
        ep.check(f"episode {i}")
    env = gym.make(dataset.env_id, disable_env_checker=True)
    try:
        obs_space, act_space, spec = env.observation_space, env.action_space, env.spec
    finally:
        env.close()
    card = {**dataset.card, "content_sha256": content_hash(dataset.episodes)}
    import h5py  # here, not at the top: every run imports this module, few read or write datasets

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        data_dir = tmp / "data"
        data_dir.mkdir(parents=True)
        with h5py.File(data_dir / DATA_FILE, "w") as f:
            for i, ep in enumerate(dataset.episodes):
                g = f.create_group(f"episode_{i}")
                g.attrs["id"] = i
                if ep.seed is not None:
                    g.attrs["seed"] = int(ep.seed)
                g.attrs["total_steps"] = ep.length
                for key, value in ep.attrs.items():
                    g.attrs[f"gailrun_{key}"] = value
                g.create_dataset("observations", data=ep.observations)
                g.create_dataset("actions", data=ep.actions)
                g.create_dataset("rewards", data=ep.rewards)
                g.create_dataset("terminations", data=ep.terminations)
                g.create_dataset("truncations", data=ep.truncations)
                g.create_group("infos")
        size_mb = (data_dir / DATA_FILE).stat().st_size / 2**20
        metadata = {
            "total_episodes": len(dataset.episodes),
            "total_steps": dataset.total_steps,
            "data_format": "hdf5",
            "observation_space": serialize_space(obs_space),
            "action_space": serialize_space(act_space),
            "env_spec": spec.to_json() if spec is not None else None,
            "dataset_id": dataset.dataset_id,
            "algorithm_name": str(card.get("source", {}).get("algo", "unknown")),
            "author": ["gailrun"],
            "author_email": ["gailrun@localhost"],
            "code_permalink": "https://github.com/gailrun/gailrun",
            "description": str(card.get("description", "Demonstrations recorded by gailrun.")),
            "minari_version": MINARI_VERSION,
            "dataset_size": round(size_mb, 3),
            "gailrun_card": card,
        }
        (data_dir / META_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        for file in (data_dir / DATA_FILE, data_dir / META_FILE):
            with open(file, "rb") as fh:
                os.fsync(fh.fileno())
        if path.exists():
            old = path.with_name(f".{path.name}.{os.getpid()}.old")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, path)
    except OSError as exc:
        raise DataError(
            f"could not write dataset {path} ({exc.strerror or exc}); check free space and permissions"
        ) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    dataset.card = card
    dataset.path = path
    return path


def _read_metadata(data_dir: Path) -> dict[str, Any]:
    meta_file = data_dir / META_FILE
    if not meta_file.is_file():
        raise DataError(f"{data_dir} has {DATA_FILE} but no {META_FILE}; it is not a complete Minari dataset")
    try:
        return json.loads(meta_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{meta_file} is not valid JSON ({exc}); the dataset is corrupt") from exc


def env_id_of(metadata: dict[str, Any], where: Path) -> str:
    spec = metadata.get("env_spec")
    if isinstance(spec, str):
        try:
            return str(json.loads(spec)["id"])
        except (json.JSONDecodeError, KeyError, TypeError):
            pass
    card_env = metadata.get("gailrun_card", {}).get("env_id")
    if card_env:
        return str(card_env)
    raise DataError(
        f"{where}: metadata names no environment (env_spec); it cannot be checked against the env"
    )


def read_dataset(path: str | Path, verify_hash: bool = True) -> Dataset:
    """Load every episode; every problem is a one-line `DataError`."""
    import h5py  # here, not at the top: every run imports this module, few read or write datasets

    data_dir = resolve_data_dir(path)
    metadata = _read_metadata(data_dir)
    episodes: list[Episode] = []
    h5 = data_dir / DATA_FILE
    try:
        with h5py.File(h5, "r") as f:
            names = sorted((k for k in f if k.startswith("episode_")), key=lambda k: int(k.split("_")[1]))
            if not names:
                raise DataError(f"{h5} contains no episodes; collect some with `gailrun collect-expert`")
            for name in names:
                g = f[name]
                missing = [
                    k
                    for k in ("observations", "actions", "rewards", "terminations", "truncations")
                    if k not in g
                ]
                if missing:
                    raise DataError(f"{h5}:{name} lacks {', '.join(missing)}; the dataset is malformed")
                if isinstance(g["observations"], h5py.Group) or isinstance(g["actions"], h5py.Group):
                    raise DataError(
                        f"{h5}:{name} has dict observations or actions; gailrun needs flat arrays"
                    )
                attrs = {k[len("gailrun_") :]: _py(v) for k, v in g.attrs.items() if k.startswith("gailrun_")}
                ep = Episode(
                    observations=g["observations"][()],
                    actions=g["actions"][()],
                    rewards=g["rewards"][()],
                    terminations=g["terminations"][()],
                    truncations=g["truncations"][()],
                    seed=int(g.attrs["seed"]) if "seed" in g.attrs else None,
                    attrs=attrs,
                )
                ep.check(f"{h5}:{name}")
                episodes.append(ep)
    except OSError as exc:
        raise DataError(
            f"cannot read {h5} ({str(exc).splitlines()[0][:120]}); it is not HDF5 or is corrupt"
        ) from exc
    env_id = env_id_of(metadata, data_dir)
    card = dict(metadata.get("gailrun_card") or {})
    if verify_hash and "content_sha256" in card and card["content_sha256"] != content_hash(episodes):
        raise DataError(
            f"{data_dir}: content hash does not match its card; the data was modified or corrupted"
        )
    return Dataset(
        env_id=env_id,
        episodes=episodes,
        card=card,
        dataset_id=str(metadata.get("dataset_id", "")),
        path=data_dir.parent,
    )


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
