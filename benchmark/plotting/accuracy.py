"""Accuracy figures: the accuracy matrix as a heatmap, and each experience's accuracy over training."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from hippo_bench.plotting.data import Selection, mean_accuracy
from hippo_bench.plotting.style import SEQUENTIAL, line_style, new_figure

ANNOTATE_UP_TO = 10  # experiences; beyond that the cells are too small for numbers
LEGEND_UP_TO = 8  # lines; beyond that a colour bar names the experiences
NOT_EVALUATED = "#9a9a9a"


def accuracy_heatmap(sel: Selection) -> Figure:
    """R[i, j]: test accuracy on experience j after training experience i (and before training, if recorded)."""
    R, _, before, _ = mean_accuracy(sel)
    T = R.shape[0]
    rows = [("before", before)] if before is not None else []
    rows += [(str(i), R[i]) for i in range(T)]
    M = np.array([r for _, r in rows])
    size = min(7.0, 2.6 + 0.3 * T)
    fig = new_figure(size + 1.1, size * len(rows) / T if T else size)
    ax = fig.add_subplot()
    cmap = colormaps[SEQUENTIAL]
    norm = Normalize(0.0, 1.0)
    image = ax.imshow(M, cmap=cmap, norm=norm, aspect="equal", interpolation="nearest", zorder=1)
    ax.set_xticks(range(T), [str(j) for j in range(T)] if T <= 20 else _sparse_labels(T))
    ax.set_yticks(range(len(rows)), [name for name, _ in rows] if T <= 20 else
                  [name if k % 2 == 0 else "" for k, (name, _) in enumerate(rows)])
    ax.set_xlabel("evaluated experience j")
    ax.set_ylabel("after training experience i")
    ax.spines[:].set_visible(False)
    missing = not np.isfinite(M).all()
    if missing:  # e.g. joint training is evaluated only at the end: hatched grey behind the empty cells
        from matplotlib.patches import Rectangle

        ax.add_patch(Rectangle((-0.5, -0.5), M.shape[1], M.shape[0], facecolor="white", edgecolor=NOT_EVALUATED,
                               hatch="//", linewidth=0, zorder=0))
    if T <= ANNOTATE_UP_TO:
        for r in range(M.shape[0]):
            for c in range(M.shape[1]):
                if np.isfinite(M[r, c]):
                    ax.text(c, r, f"{M[r, c]:.2f}", ha="center", va="center", fontsize=7,
                            color="black" if _luminance(cmap(norm(M[r, c]))) > 0.45 else "white")
    fig.colorbar(image, ax=ax, label="test accuracy (fraction correct)", shrink=0.85)
    note = "; hatched: not evaluated" if missing else ""
    ax.set_title(f"Accuracy matrix R[i, j]{note}\n{sel.title}, {sel.seed_text}")
    return fig


def has_curves(sel: Selection) -> bool:
    """Forgetting curves need accuracies after at least two training experiences (not joint training)."""
    from hippo_bench.plotting.data import has_accuracy

    if not has_accuracy(sel):
        return False
    R = mean_accuracy(sel)[0]
    return int(np.isfinite(R).any(axis=1).sum()) >= 2


def forgetting_curves(sel: Selection) -> Figure:
    """Accuracy on each experience j from the moment it is trained (i = j) to the end, mean ± std over seeds."""
    R, S, _, _ = mean_accuracy(sel)
    T = R.shape[0]
    fig = new_figure(6.4, 3.8)
    ax = fig.add_subplot()
    many = T > LEGEND_UP_TO
    cmap = colormaps["viridis"]
    for j in range(T):
        x = np.arange(j, T)
        y, s = R[j:, j], S[j:, j]
        style = {"color": cmap(j / max(T - 1, 1)), "linestyle": "-"} if many else line_style(j)
        ax.plot(x, y, marker="o", markersize=3, linewidth=1.4, label=f"experience {j}", **style)
        if sel.n_seeds > 1 and len(x) > 1:
            ax.fill_between(x, y - s, y + s, color=style["color"], alpha=0.15, linewidth=0)
        elif sel.n_seeds > 1:  # a single point (the last experience): its band as an error bar
            ax.errorbar(x, y, yerr=s, color=style["color"], linewidth=1.0, capsize=3)
    ax.set_xlim(-0.3, T - 0.7)
    ax.set_ylim(0.0, 1.02)
    ax.set_xticks(range(T) if T <= 20 else range(0, T, 2))
    ax.set_xlabel("after training experience i")
    ax.set_ylabel("test accuracy on experience j\n(fraction correct)")
    band = ", band ± 1 std" if sel.n_seeds > 1 else ""
    ax.set_title(f"Accuracy of each experience over training (forgetting curves)\n{sel.title}, {sel.seed_text}{band}")
    if many:
        from matplotlib.cm import ScalarMappable

        from matplotlib.ticker import MaxNLocator

        bar = fig.colorbar(ScalarMappable(Normalize(0, T - 1), cmap), ax=ax, label="experience j")
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def _sparse_labels(T: int) -> list[str]:
    return [str(j) if j % 2 == 0 else "" for j in range(T)]


def _luminance(rgba) -> float:
    r, g, b = rgba[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
