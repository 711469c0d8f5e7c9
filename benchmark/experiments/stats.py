"""The shared statistics of the claims: a directional paired test over seeds and the verdict rule.

A claim predicts a sign (for example "the large branch is sparser": large -
small < 0 in every seed). :func:`directional` counts the seeds that show the
predicted sign and tests it with a one-sided Wilcoxon signed-rank test
(scipy.stats.wilcoxon; zero differences dropped, exact p for small n). One
sided because each claim names its direction in advance; with 5 seeds all
of one sign the one-sided p is 1/32 = 0.031, where the two-sided test could
never go below 0.0625. :func:`decide` turns tests into a verdict: below
:data:`MIN_SEEDS` seeds always inconclusive; otherwise holds when every test
has the predicted sign in at least :data:`SHARE` of the seeds and p <
:data:`ALPHA`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from hippo_bench.experiments.base import FAILS, HOLDS, INCONCLUSIVE

MIN_SEEDS = 5
SHARE = 0.8  # share of seeds that must show the predicted sign
ALPHA = 0.05  # significance level of each one-sided test


@dataclasses.dataclass(frozen=True)
class Directional:
    """Seeds agreeing with the predicted sign (k of n) and the one-sided Wilcoxon p."""

    what: str
    k: int
    n: int
    p: float
    median: float
    test: str = "one-sided Wilcoxon"

    @property
    def passes(self) -> bool:
        return self.n > 0 and self.k >= SHARE * self.n and self.p < ALPHA

    def text(self) -> str:
        p = "n/a" if math.isnan(self.p) else f"{self.p:.3g}"
        return f"{self.what} in {self.k}/{self.n} seeds (median {self.median:+.3g}, {self.test} p = {p})"


def directional(what: str, differences: Sequence[float], sign: int) -> Directional:
    """Test that the per-seed ``differences`` have sign ``sign`` (+1 or -1); NaN seeds are left out."""
    from scipy import stats

    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    n, k = len(d), int((np.sign(d) == sign).sum())
    p = math.nan
    if n >= 2 and np.any(d != 0):
        p = float(stats.wilcoxon(d, alternative="greater" if sign > 0 else "less").pvalue)
    return Directional(what, k, n, p, float(np.median(d)) if n else math.nan)


def decide(tests: Sequence[Directional], n_seeds: int, extra_ok: bool = True) -> str:
    """holds / does not hold / inconclusive (fewer than MIN_SEEDS seeds, or no test at all)."""
    if not tests or n_seeds < MIN_SEEDS or min(t.n for t in tests) < MIN_SEEDS:
        return INCONCLUSIVE
    return HOLDS if all(t.passes for t in tests) and extra_ok else FAILS
