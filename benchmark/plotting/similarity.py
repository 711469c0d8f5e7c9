"""Pattern-correlation matrices of the CLS tasks: item x item, one panel per layer.

Reads the tidy metric ``item_correlation`` (entity = layer, ``item_a`` <
``item_b``, recorded at the final evaluation with the network intact). A
layer that separates pair-mates from other items shows blocks along the
diagonal; a layer that merges them shows none.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from hippo_bench.plotting.data import Selection, item_correlations
from hippo_bench.plotting.style import DIVERGING, new_figure

TICKS_UP_TO = 16  # items; beyond that every other item is labelled


def has_correlations(sel: Selection) -> bool:
    return bool(item_correlations(sel))


def correlation_matrices(sel: Selection) -> Figure:
    mats = item_correlations(sel)
    n_panels = len(mats)
    cols = min(4, n_panels)
    rows = math.ceil(n_panels / cols)
    fig = new_figure(2.55 * cols + 1.0, 2.55 * rows + 0.9)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    cmap, norm = colormaps[DIVERGING], Normalize(-1.0, 1.0)
    image = None
    for ax, (layer, M) in zip(axes, mats.items()):
        n = M.shape[0]
        image = ax.imshow(M, cmap=cmap, norm=norm, interpolation="nearest")
        step = 1 if n <= TICKS_UP_TO else 2
        ax.set_xticks(range(0, n, step), [str(i) for i in range(0, n, step)], fontsize=6)
        ax.set_yticks(range(0, n, step), [str(i) for i in range(0, n, step)], fontsize=6)
        ax.set_title(layer)
        ax.set_xlabel("item")
        ax.set_ylabel("item")
        ax.spines[:].set_visible(False)
    for ax in axes[n_panels:]:
        ax.axis("off")
    if image is not None:
        fig.colorbar(image, ax=axes[:n_panels].tolist(), shrink=0.8, label="pattern correlation (Pearson r)")
    fig.suptitle(f"Pattern correlation of the items' hidden patterns, per layer (final evaluation)\n"
                 f"{sel.title}, {sel.seed_text}")
    return fig
