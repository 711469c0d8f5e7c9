"""Continual-learning metrics as pure functions of the accuracy matrix.

``R[i, j]`` is the test accuracy on experience ``j`` after training experience
``i`` (0-indexed, ``T`` experiences); ``b[j]`` is the accuracy on ``j`` before
any training (the runner's ``train_exp = -1`` evaluation). Missing entries are
NaN and propagate: a metric that needs them is NaN. Definitions follow
docs/DESIGN.md section 3; Avalanche's stream-level forgetting and BWT average
differently, so they are not used.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np


def _check(R: np.ndarray) -> np.ndarray:
    R = np.asarray(R, dtype=float)
    if R.ndim != 2 or R.shape[0] != R.shape[1] or R.shape[0] == 0:
        raise ValueError(f"accuracy matrix must be square and non-empty, got shape {R.shape}")
    return R


def acc(R) -> float:
    """Final average accuracy (ACC; La-MAML's RA): mean_j R[T-1, j]."""
    R = _check(R)
    return float(np.mean(R[-1]))


def learning_accuracy(R) -> float:
    """Learning accuracy (LA): mean_j R[j, j], accuracy right after learning j."""
    R = _check(R)
    return float(np.mean(np.diag(R)))


def bwt(R) -> float:
    """Backward transfer (Lopez-Paz & Ranzato 2017): mean_{j<T-1} R[T-1, j] - R[j, j]."""
    R = _check(R)
    T = R.shape[0]
    if T < 2:
        return float("nan")
    return float(np.mean([R[-1, j] - R[j, j] for j in range(T - 1)]))


def bti(R) -> float:
    """La-MAML's backward-transfer-and-interference: the BWT sum averaged over all T."""
    R = _check(R)
    T = R.shape[0]
    if T < 2:
        return float("nan")
    return float(sum(R[-1, j] - R[j, j] for j in range(T - 1)) / T)


def forgetting(R) -> float:
    """Forgetting (Chaudhry et al. 2018): mean_{j<T-1} max_{l<T-1} R[l, j] - R[T-1, j]."""
    R = _check(R)
    T = R.shape[0]
    if T < 2:
        return float("nan")
    return float(np.mean([np.max(R[: T - 1, j]) - R[-1, j] for j in range(T - 1)]))


def fwt(R, b) -> float:
    """Forward transfer (Lopez-Paz & Ranzato 2017): mean_{j>=1} R[j-1, j] - b[j]."""
    R = _check(R)
    b = np.asarray(b, dtype=float)
    T = R.shape[0]
    if b.shape != (T,):
        raise ValueError(f"baseline accuracies need shape ({T},), got {b.shape}")
    if T < 2:
        return float("nan")
    return float(np.mean([R[j - 1, j] - b[j] for j in range(1, T)]))


@dataclasses.dataclass(frozen=True)
class MetricInfo:
    key: str
    label: str
    higher_is_better: bool
    reference: str
    needs_baseline: bool = False

    def compute(self, R, b=None) -> float:
        fn: Callable = _FUNCS[self.key]
        return fn(R, b) if self.needs_baseline else fn(R)


_FUNCS: dict[str, Callable] = {
    "acc": acc, "la": learning_accuracy, "bwt": bwt, "bti": bti, "forgetting": forgetting, "fwt": fwt,
}

METRICS: dict[str, MetricInfo] = {
    m.key: m for m in [
        MetricInfo("acc", "ACC", True, "final average accuracy; La-MAML's RA (Gupta et al. 2020)"),
        MetricInfo("la", "LA", True, "learning accuracy (Riemer et al. 2019)"),
        MetricInfo("bwt", "BWT", True, "Lopez-Paz & Ranzato 2017"),
        MetricInfo("bti", "BTI", True, "La-MAML's BTI = BWT (T-1)/T (Gupta et al. 2020)"),
        MetricInfo("forgetting", "Forgetting", False, "Chaudhry et al. 2018"),
        MetricInfo("fwt", "FWT", True, "Lopez-Paz & Ranzato 2017", needs_baseline=True),
    ]
}


def summarize(R, b=None) -> dict[str, float]:
    """All metrics of one run; FWT is NaN when no baseline row exists."""
    out = {}
    for key, info in METRICS.items():
        if info.needs_baseline and b is None:
            out[key] = float("nan")
        else:
            out[key] = info.compute(R, b)
    return out
