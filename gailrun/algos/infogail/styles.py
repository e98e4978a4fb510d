"""How well a policy's latent codes separate the styles hidden in mixed demonstrations (InfoGAIL study).

The style statistic of an episode is the mean of one observation component (CartPole: obs[0], the cart
position). An episode has a demonstrator's style when its statistic is nearer that demonstrator's mean than
to the average of all demonstrators' means; otherwise it is "between", the blurred average behaviour that
plain GAIL is expected to show, and never counts as a match. Codes are mapped to labels by the best
assignment (permutation), as in clustering accuracy.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gailrun.data.collect import play_episodes
from gailrun.data.episodes import Episode
from gailrun.models.policy import Policy


def style_statistic(episodes: Sequence[Episode], index: int = 0) -> np.ndarray:
    """Mean of observation component `index` over each episode (all T + 1 observations)."""
    return np.array([float(ep.observations[:, index].mean()) for ep in episodes])


def label_centres(episodes: Sequence[Episode], index: int = 0) -> dict[str, float]:
    """Mean style statistic of the demonstrations of each hidden label."""
    by_label: dict[str, list[float]] = {}
    for ep, stat in zip(episodes, style_statistic(episodes, index), strict=True):
        by_label.setdefault(str(ep.attrs.get("style")), []).append(float(stat))
    return {label: float(np.mean(v)) for label, v in sorted(by_label.items())}


BETWEEN = "between"


def classify(stats: np.ndarray, centres: dict[str, float]) -> list[str]:
    """Each episode's style: the nearest demonstrator's label, or BETWEEN when the average is nearer."""
    labels, values = list(centres), np.array(list(centres.values()))
    middle = float(values.mean())
    out = []
    for s in stats:
        nearest = int(np.argmin(np.abs(values - s)))
        out.append(labels[nearest] if abs(s - values[nearest]) < abs(s - middle) else BETWEEN)
    return out


def best_mapping_accuracy(
    codes: Sequence[int], labels: Sequence[str], label_set: Sequence[str]
) -> tuple[float, dict]:
    """Accuracy of the best code -> label assignment (each code to a distinct label when possible)."""
    code_set = sorted(set(codes))
    best, best_map = -1.0, {}
    for perm in itertools.permutations(label_set, min(len(label_set), len(code_set))):
        mapping = dict(zip(code_set, perm, strict=False))
        acc = float(np.mean([mapping.get(c) == lab for c, lab in zip(codes, labels, strict=True)]))
        if acc > best:
            best, best_map = acc, mapping
    return best, best_map


def styles_reproduced(
    labels_per_code: Sequence[Sequence[str]], label_set: Sequence[str], share: float = 0.9
) -> list[str]:
    """The demonstrators' styles that some code plays in at least `share` of its episodes: a comparison
    that also applies to a policy without codes (plain GAIL: one "code"), unlike code-to-label accuracy."""
    found = []
    for label in label_set:
        if any(labels and labels.count(label) >= share * len(labels) for labels in labels_per_code):
            found.append(label)
    return found


@dataclass
class CodeReport:
    code: int | None  # None: a policy without codes (plain GAIL)
    returns: np.ndarray
    stats: np.ndarray
    labels: list[str]


def play_code(
    policy: Policy,
    env_id: str,
    code: int | None,
    episodes: int,
    seed: int,
    index: int = 0,
    centres: dict[str, float] | None = None,
) -> CodeReport:
    """Play deterministic episodes with one code (or none) and measure their style."""
    if policy.n_codes:
        policy.codes = np.array([code if code is not None else 0], dtype=np.int64)
    eps = play_episodes(lambda o: policy.act(o, deterministic=True), env_id, episodes, seed)
    stats = style_statistic(eps, index)
    labels = classify(stats, centres) if centres else []
    return CodeReport(code, np.array([ep.ret for ep in eps]), stats, labels)
