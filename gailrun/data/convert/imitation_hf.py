"""The imitation library's trajectory datasets: the directory `imitation.data.serialize.save` writes.

That is a Hugging Face `datasets` directory (`save_to_disk`: `state.json`, `dataset_info.json` and Arrow
stream files) with one row per trajectory and the columns of imitation's `huggingface_utils`: `obs`
[T + 1, D], `acts` [T], `infos` [T] (jsonpickle strings), `terminal` (one bool) and `rews` [T]. The
observation convention is gailrun's: one more observation than actions.

imitation's `terminal` is read as "ended by termination"; an unfinished fragment (`terminal` false) becomes
a truncation. imitation's own rollouts also set `terminal` at time limits, so a final info with
`"TimeLimit.truncated": true` (as SB3 wrappers record) turns it into a truncation too. Exports write both
flags, seed and attrs into the last step's info under `"gailrun"`, which imitation carries along unread, so a
round trip is exact.

Files are read and written with pyarrow alone (imitation and `datasets` need not be installed). Features are
declared in the `Sequence` form of `datasets` 2.x, which every `datasets` version since (4.x and 5.x read it
as `List`) loads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from gailrun.data.convert import common
from gailrun.data.minari_io import Dataset
from gailrun.envs.make import env_info
from gailrun.errors import DataError

FORMAT = "imitation"
DATA_FILE = "data-00000-of-00001.arrow"


def _pa() -> Any:
    try:
        import pyarrow as pa
    except ImportError as exc:
        raise DataError(
            "the imitation datasets format needs pyarrow; install it with `pip install 'gailrun[convert]'`"
        ) from exc
    return pa


def _seq(feature: dict[str, Any]) -> dict[str, Any]:
    return {"feature": feature, "length": -1, "_type": "Sequence"}


def _val(dtype: str) -> dict[str, Any]:
    return {"dtype": dtype, "_type": "Value"}


FEATURES: dict[str, Any] = {
    "obs": _seq(_seq(_val("float32"))),
    "acts": _seq(_val("int64")),
    "infos": _seq(_val("string")),
    "terminal": _val("bool"),
    "rews": _seq(_val("float64")),
}


def _read_table(src: Path) -> Any:
    pa = _pa()
    if src.is_file():
        raise DataError(
            f"{src} is a file; imitation's datasets layout is a directory (for its older .npz files use "
            "--from imitation-npz)"
        )
    common.require_source(src, "dir")
    if (src / "dataset_dict.json").is_file():
        raise DataError(f"{src} is a DatasetDict with several splits; pass the directory of one split")
    state_file = src / "state.json"
    if not state_file.is_file():
        raise DataError(
            f"{src} has no state.json; it is not a directory written by `datasets` save_to_disk "
            "(imitation.data.serialize.save); for imitation's older .npz files use --from imitation-npz"
        )
    try:
        state = json.loads(state_file.read_text())
        files = [src / f["filename"] for f in state["_data_files"]]
        tables = []
        for file in files:
            with pa.memory_map(str(file)) as source:
                tables.append(pa.ipc.open_stream(source).read_all())
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as exc:
        raise DataError(
            f"cannot read the datasets directory {src} ({str(exc).splitlines()[0][:120]}); it is corrupt"
        ) from exc
    if not tables:
        raise DataError(f"{src}: state.json lists no data files; the directory is corrupt")
    return pa.concat_tables(tables)


def _ragged(column: Any, name: str, src: Path) -> tuple[np.ndarray, np.ndarray]:
    """Row lengths and concatenated values of a list-per-trajectory column; values keep their Arrow dtype."""
    pa = _pa()
    arr = column.combine_chunks()

    def is_list(t: Any) -> bool:
        return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)

    def lengths_of(a: Any) -> np.ndarray:
        if pa.types.is_fixed_size_list(a.type):
            return np.full(len(a), a.type.list_size, dtype=np.int64)
        return a.value_lengths().to_numpy(zero_copy_only=False).astype(np.int64)

    if not is_list(arr.type):
        raise DataError(f"{src}: column {name} has type {arr.type}; expected a list per trajectory")
    if arr.null_count:
        raise DataError(f"{src}: column {name} has missing values; the dataset is malformed")
    lengths = lengths_of(arr)
    values = arr.flatten()
    inner: list[int] = []
    while is_list(values.type):
        widths = lengths_of(values)
        if values.null_count or (widths.size and (widths != widths[0]).any()):
            raise DataError(f"{src}: column {name} has steps of different sizes; expected fixed-size steps")
        inner.append(int(widths[0]) if widths.size else 0)
        values = values.flatten()
    flat = values.to_numpy(zero_copy_only=False)
    return lengths, flat.reshape(-1, *inner)


def _last_infos(table: Any, src: Path) -> list[dict[str, Any]]:
    """The final info dict of each trajectory, parsed as plain JSON (never jsonpickle-decoded)."""
    if "infos" not in table.column_names:
        return [{} for _ in range(table.num_rows)]
    lengths, infos = _ragged(table.column("infos"), "infos", src)
    ends = np.cumsum(lengths) - 1
    out: list[dict[str, Any]] = []
    for n, end in zip(lengths, ends, strict=True):
        parsed: Any = {}
        if n > 0:
            try:
                parsed = json.loads(infos[end])
            except (json.JSONDecodeError, TypeError):
                parsed = {}
        out.append(parsed if isinstance(parsed, dict) else {})
    return out


def import_imitation(src: str | Path, env_id: str) -> Dataset:
    """Read a directory saved by `imitation.data.serialize.save` (trajectories with rewards)."""
    src = Path(src)
    info = env_info(env_id)
    table = _read_table(src)
    cols = set(table.column_names)
    missing = [c for c in ("obs", "acts", "terminal") if c not in cols]
    if missing:
        raise DataError(
            f"{src} lacks the column(s) {', '.join(missing)}; expected imitation's trajectory columns "
            "obs, acts, infos, terminal, rews"
        )
    if "rews" not in cols:
        raise DataError(
            f"{src} has no rews column (imitation Trajectory objects without rewards); gailrun datasets need "
            "rewards, so save TrajectoryWithRew objects"
        )
    obs_len, obs = _ragged(table.column("obs"), "obs", src)
    act_len, acts = _ragged(table.column("acts"), "acts", src)
    rew_len, rews = _ragged(table.column("rews"), "rews", src)
    terminal = np.asarray(table.column("terminal").to_numpy(zero_copy_only=False), dtype=bool)
    last_infos = _last_infos(table, src)
    o0 = np.concatenate([[0], np.cumsum(obs_len)])
    a0 = np.concatenate([[0], np.cumsum(act_len)])
    r0 = np.concatenate([[0], np.cumsum(rew_len)])
    episodes = []
    for i in range(table.num_rows):
        last = last_infos[i]
        terminated = bool(terminal[i]) and last.get("TimeLimit.truncated") is not True
        episodes.append(
            common.make_episode(
                f"{src}: trajectory {i}",
                info,
                obs[o0[i] : o0[i + 1]],
                acts[a0[i] : a0[i + 1]],
                rews[r0[i] : r0[i + 1]],
                terminated,
                not terminated,
                common.parse_meta(last.get("gailrun")),
            )
        )
    return common.imported_dataset(info, episodes, FORMAT, src)


def _last_info(ep_meta: dict[str, Any]) -> str:
    info = {
        "TimeLimit.truncated": ep_meta["truncated"] and not ep_meta["terminated"],
        "gailrun": ep_meta,
    }
    return json.dumps(info)


def export_imitation(dataset: Dataset, dst: str | Path, overwrite: bool = False) -> Path:
    """Write `dataset` as the directory `imitation.data.serialize.load` reads back as TrajectoryWithRew."""
    pa = _pa()
    eps = dataset.episodes
    obs = np.concatenate([ep.observations for ep in eps]).astype(np.float32, copy=False)
    dim = obs.shape[1]
    if obs.size >= 2**31:
        raise DataError(f"{len(eps)} episodes are too large for one Arrow file; export fewer episodes")

    def offsets(lengths: list[int]) -> Any:
        return pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))

    steps = pa.ListArray.from_arrays(
        pa.array(np.arange(0, obs.size + 1, dim, dtype=np.int32)), pa.array(obs.reshape(-1))
    )
    t_plus_1 = [ep.length + 1 for ep in eps]
    t = [ep.length for ep in eps]
    infos = [s for ep in eps for s in ["{}"] * (ep.length - 1) + [_last_info(common.episode_meta(ep))]]
    columns = {
        "obs": pa.ListArray.from_arrays(offsets(t_plus_1), steps),
        "acts": pa.ListArray.from_arrays(offsets(t), pa.array(np.concatenate([ep.actions for ep in eps]))),
        "infos": pa.ListArray.from_arrays(offsets(t), pa.array(infos, type=pa.string())),
        "terminal": pa.array([bool(ep.terminations[-1]) for ep in eps], type=pa.bool_()),
        "rews": pa.ListArray.from_arrays(offsets(t), pa.array(np.concatenate([ep.rewards for ep in eps]))),
    }
    schema = pa.schema(
        [pa.field(name, col.type) for name, col in columns.items()],
        metadata={"huggingface": json.dumps({"info": {"features": FEATURES}})},
    )
    table = pa.Table.from_arrays(list(columns.values()), schema=schema)
    ds_info = {
        "citation": "",
        "description": f"{len(eps)} trajectories of {dataset.env_id} exported by gailrun",
        "features": FEATURES,
        "homepage": "",
        "license": "",
    }
    state = {
        "_data_files": [{"filename": DATA_FILE}],
        "_fingerprint": str(dataset.card.get("content_sha256", "gailrun"))[:16],
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": None,
    }
    dst = Path(dst)
    with common.atomic_output(dst, overwrite) as tmp:
        tmp.mkdir()
        with pa.OSFile(str(tmp / DATA_FILE), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
            writer.write_table(table)
        (tmp / "dataset_info.json").write_text(json.dumps(ds_info, indent=2) + "\n")
        (tmp / "state.json").write_text(json.dumps(state, indent=2) + "\n")
    return dst
