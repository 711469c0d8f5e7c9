"""Pattern similarity: Pearson correlation between the hidden patterns of items.

Schapiro et al. (2017) compare the correlation of layer activity patterns
for related items (pair-mates, same-community items, A and C of a triad)
with that of unrelated ones. A pattern with no variance across units (a
silent layer) has no defined correlation: it gives NaN and is left out of
the averages.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import Tensor


def correlation_matrix(patterns: Tensor) -> Tensor:
    """Pearson correlation between every pair of rows of an (items x units) matrix."""
    p = patterns.detach().to(torch.float64).flatten(1)
    centred = p - p.mean(dim=1, keepdim=True)
    norms = centred.norm(dim=1)
    corr = (centred @ centred.T) / (norms[:, None] * norms[None, :])
    flat = norms == 0
    corr[flat, :] = math.nan
    corr[:, flat] = math.nan
    return corr


def mean_similarity(corr: Tensor, pairs: Iterable[tuple[int, int]]) -> float:
    """Mean correlation over item pairs, ignoring undefined ones (NaN if none is defined)."""
    pairs = list(pairs)
    if not pairs:
        return math.nan
    rows = torch.tensor([i for i, _ in pairs])
    cols = torch.tensor([j for _, j in pairs])
    values = corr[rows, cols]
    values = values[~torch.isnan(values)]
    return float(values.mean()) if values.numel() else math.nan
