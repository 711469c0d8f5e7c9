"""The learned pattern over training: % active and m per layer, learned learning rate per projection.

One line per layer (or projection), the mean over seeds with a ± 1 std
band, at every evaluation (before training, then after each experience).
Reads the tidy metrics ``percent_active``, ``inhibition_m`` and
``learned_lr`` (entity = layer or projection, group = its pathway) through
:func:`hippo_bench.analysis.learned_pattern.series`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from hippo_bench.analysis.learned_pattern import series as pattern_series
from hippo_bench.plotting.data import Selection
from hippo_bench.plotting.style import line_style, new_figure

PANELS = (
    ("percent_active", "% of units active\n(probe batch, per layer)", "Sparsity per layer"),
    ("inhibition_m", "inhibition multiplier m\n(× k-th largest input)", "Inhibition per layer"),
    ("learned_lr", "learned learning rate\nrelu(α) per step", "Learning rate per projection"),
)


def has_pattern(sel: Selection) -> bool:
    return any(not pattern_series(sel.rows, metric).empty for metric, _, _ in PANELS)


def pattern_over_training(sel: Selection) -> Figure:
    """Up to three stacked panels (those whose metric was recorded), sharing the training axis."""
    present = [(m, label, title, pattern_series(sel.rows, m)) for m, label, title in PANELS]
    present = [p for p in present if not p[3].empty]
    fig = new_figure(7.6, 2.5 * len(present) + 0.7)
    axes = fig.subplots(len(present), 1, sharex=True, squeeze=False)[:, 0]
    steps: list[int] = []
    for ax, (metric, label, title, series) in zip(axes, present):
        for i, (entity, rows) in enumerate(series.groupby("entity", sort=False)):
            rows = rows.sort_values("train_exp")
            x = rows["train_exp"].to_numpy()
            y, s = rows["mean"].to_numpy(), rows["std"].to_numpy()
            group = rows["group"].iloc[0]
            name = f"{entity} ({group})" if group and group != entity else entity
            style = line_style(i)
            ax.plot(x, y, marker="o", markersize=2.5, linewidth=1.4, label=name, **style)
            if sel.n_seeds > 1:
                ax.fill_between(x, y - s, y + s, color=style["color"], alpha=0.15, linewidth=0)
            steps += x.tolist()
        values = series["mean"].to_numpy()
        if metric != "inhibition_m" and len(values) and np.all(values > 0) and values.max() / values.min() > 20:
            ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.set_title(title, loc="left")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                  ncol=1 if series["entity"].nunique() <= 9 else 2)
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ticks = sorted(set(steps))
    if len(ticks) > 21:
        ticks = [t for t in ticks if t == -1 or t % 2 == 0]
    axes[-1].set_xticks(ticks, ["init" if t == -1 else str(t) for t in ticks])
    axes[-1].set_xlabel("after training experience (init: before training)")
    band = ", band ± 1 std" if sel.n_seeds > 1 else ""
    fig.suptitle(f"Learned pattern over training\n{sel.title}, {sel.seed_text}{band}")
    return fig
