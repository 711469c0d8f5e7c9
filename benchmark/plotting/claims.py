"""Figures of the claim reports (``hippo-bench experiment``): the statistic each claim is judged on, drawn.

- :func:`accuracy_vs_alpha`: final ACC and % active against alpha_init per
  condition (mean, ± 1 SD band and per-seed dots; log x axis);
- :func:`pattern_bars`: % active per layer and learned lr per projection at
  the end of training, a bar for the mean over seeds and a dot per seed,
  one row of panels per model (optionally a reference value per layer);
- :func:`trajectories`: inhibition m per layer and learned lr per projection
  after every experience (mean, ± 1 SD band);
- :func:`pathway_diagram`: the network coloured by % active and learned lr
  (:func:`hippo_bench.plotting.network.network_figure`);
- :func:`lesion_bars` and :func:`grouped_bars`: intact vs lesioned measures,
  bars and per-seed dots.

Colours follow :mod:`.style`: Okabe-Ito per category (condition, layer
group, lesion).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from hippo_bench.plotting.style import OKABE_ITO, line_style, new_figure

DOT = {"s": 11, "color": "#222222", "alpha": 0.75, "linewidths": 0, "zorder": 3}


def _jitter(n: int, width: float = 0.22) -> np.ndarray:
    """Fixed horizontal offsets for n per-seed dots (deterministic: same results, same file)."""
    return np.linspace(-width / 2, width / 2, n) if n > 1 else np.zeros(n)


def bars_with_dots(ax: Axes, labels: Sequence[str], values: Sequence[np.ndarray], colors: Sequence[str],
                   positions: Sequence[float] | None = None, width: float = 0.7) -> None:
    """One bar per label at the mean of its values, and a dot per value (per seed)."""
    xs = np.arange(len(labels), dtype=float) if positions is None else np.asarray(positions, dtype=float)
    for x, v, c in zip(xs, values, colors):
        v = np.asarray(v, dtype=float)
        v = v[np.isfinite(v)]
        if not len(v):
            continue
        ax.bar(x, v.mean(), width=width, color=c, alpha=0.85, edgecolor="none", zorder=2)
        ax.scatter(x + _jitter(len(v), width * 0.5), v, **DOT)
    if positions is None:
        ax.set_xticks(xs, labels)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)


def accuracy_vs_alpha(runs: pd.DataFrame) -> Figure:
    """ACC and mean % active against alpha_init, one line per condition (``runs``: robustness's run table)."""
    fig = new_figure(8.4, 3.4)
    axes = fig.subplots(1, 2)
    n = int(runs["seed"].nunique())
    for ax, column, label in ((axes[0], "acc", "final ACC (mean test accuracy)"),
                              (axes[1], "percent_active", "% active (mean over hidden layers)")):
        for i, (condition, rows) in enumerate(runs.groupby("condition", sort=True)):
            style = line_style(i)
            stats = rows.groupby("alpha_init")[column].agg(["mean", "std"]).reset_index()
            x, y, s = stats["alpha_init"].to_numpy(), stats["mean"].to_numpy(), stats["std"].fillna(0).to_numpy()
            ax.plot(x, y, marker="o", markersize=3.5, linewidth=1.5, label=condition, **style)
            if n > 1:
                ax.fill_between(x, y - s, y + s, color=style["color"], alpha=0.18, linewidth=0)
            ax.scatter(rows["alpha_init"], rows[column], s=7, color=style["color"], alpha=0.5, linewidths=0)
        ax.set_xscale("log")
        ax.set_xlabel("initial learning rate alpha_init (log scale)")
        ax.set_ylabel(label)
        ax.grid(color="#e5e5e5", linewidth=0.6)
    axes[0].set_ylim(0, max(1.0, float(np.nanmax(runs["acc"])) * 1.05) if len(runs) else 1.0)
    axes[0].legend(title="condition", frameon=False, loc="lower right")
    band = ", band ± 1 SD" if n > 1 else ""
    fig.suptitle(f"Sensitivity to alpha_init: mean over {n} seed{'s' if n != 1 else ''}{band}, dots: seeds")
    return fig


def _final(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    from hippo_bench.experiments.base import final_rows

    return final_rows(rows, metric)


def _group_colours(groups: Sequence[str]) -> dict[str, str]:
    return {g: OKABE_ITO[i % len(OKABE_ITO)] for i, g in enumerate(dict.fromkeys(groups))}


def pattern_bars(df: pd.DataFrame, reference: dict[str, float] | None = None) -> Figure:
    """% active per layer and learned lr per projection (final), bars = mean over seeds, dots = seeds.

    One row of two panels per model; bars coloured by layer group. ``reference``
    (layer -> % active) draws a marker per layer, e.g. C-HORSE's values.
    """
    models = list(dict.fromkeys(df["model"]))
    widths = [(_final(df[df["model"] == model], "percent_active")["entity"].nunique(),
               _final(df[df["model"] == model], "learned_lr")["entity"].nunique()) for model in models]
    n_layers = max((w[0] for w in widths), default=1)
    n_proj = max((w[1] for w in widths), default=1)
    fig = new_figure(max(7.5, 1.0 + 0.55 * (n_layers + n_proj)), 3.0 * len(models) + 0.6)
    grid = fig.add_gridspec(len(models), 2, width_ratios=[max(n_layers, 2), max(n_proj, 2)])
    finals = {(model, m): _final(df[df["model"] == model], m) for model in models
              for m in ("percent_active", "learned_lr")}
    colours = _group_colours([g for m in ("percent_active", "learned_lr") for model in models
                              for g in finals[(model, m)]["group"]])
    layer_names = {e for model in models for e in finals[(model, "percent_active")]["entity"]}
    for r, model in enumerate(models):
        rows = df[df["model"] == model]
        active, lr = finals[(model, "percent_active")], finals[(model, "learned_lr")]
        n = int(rows["run_id"].nunique())
        for c, (table, ylabel) in enumerate(((active, "% of units active"), (lr, "learned lr relu(α)"))):
            ax = fig.add_subplot(grid[r, c])
            names = list(dict.fromkeys(table["entity"]))
            values = [table.loc[table["entity"] == e, "value"].to_numpy() for e in names]
            groups = [str(table.loc[table["entity"] == e, "group"].iloc[0]) for e in names]
            bars_with_dots(ax, names, values, [colours[g] for g in groups])
            if c == 0 and reference:
                xs = [k for k, e in enumerate(names) if e.lower() in reference]
                ax.scatter(xs, [reference[names[k].lower()] for k in xs], marker="D", s=26, color="#D55E00",
                           edgecolors="white", linewidths=0.6, zorder=4, label="C-HORSE")
                ax.legend(frameon=False, loc="upper left", fontsize=7)
                ax.set_yscale("log")
                ax.set_ylim(0.5, 100)
            ax.set_ylabel(ylabel)
            ax.tick_params(axis="x", labelrotation=35 if c == 1 or len(names) > 6 else 0)
            for label in ax.get_xticklabels():
                label.set_horizontalalignment("right" if c == 1 or len(names) > 6 else "center")
            what = "% active per layer" if c == 0 else "learned lr per projection"
            ax.set_title(f"{model}: {what} ({n} seed{'s' if n != 1 else ''})", loc="left")
    groups = [g for g in colours if g]
    if set(groups) - layer_names - {"output"}:  # pathway groups (not one group per layer, as in the MLPs)
        fig.legend(handles=[_patch(colours[g], g) for g in groups], title="group", loc="outside right center",
                   frameon=False)
    fig.suptitle("Learned pattern at the end of training: bars = mean over seeds, dots = seeds")
    return fig


def _patch(colour: str, label: str):
    from matplotlib.patches import Patch

    return Patch(facecolor=colour, label=label)


def trajectories(df: pd.DataFrame) -> Figure:
    """Inhibition m per layer and learned lr per projection after every experience, one row per model."""
    from hippo_bench.analysis.learned_pattern import series as pattern_series
    from hippo_bench.plotting.data import Selection

    models = list(dict.fromkeys(df["model"]))
    fig = new_figure(9.0, 2.8 * len(models) + 0.6)
    axes = fig.subplots(len(models), 2, squeeze=False)
    for r, model in enumerate(models):
        sel = Selection(model, "config", df[df["model"] == model].reset_index(drop=True))
        for c, (metric, ylabel) in enumerate((("inhibition_m", "inhibition m"), ("learned_lr", "learned lr relu(α)"))):
            ax = axes[r, c]
            series = pattern_series(sel.rows, metric)
            for i, (entity, rows) in enumerate(series.groupby("entity", sort=False)):
                x, y, s = rows["train_exp"].to_numpy(), rows["mean"].to_numpy(), rows["std"].to_numpy()
                style = line_style(i)
                ax.plot(x, y, linewidth=1.4, marker="o", markersize=2.5, label=entity, **style)
                if sel.n_seeds > 1:
                    ax.fill_between(x, y - s, y + s, color=style["color"], alpha=0.15, linewidth=0)
            ax.set_ylabel(ylabel)
            ax.set_xlabel("after training experience (-1: before training)")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            seeds = f"{sel.n_seeds} seed{'s' if sel.n_seeds != 1 else ''}"
            ax.set_title(f"{model}: {'m per layer' if c == 0 else 'lr per projection'} ({seeds})", loc="left")
            ax.grid(color="#e5e5e5", linewidth=0.6)
            ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle("Learned inhibition and learning rates over the stream: mean over seeds, band ± 1 SD")
    return fig


def pathway_diagram(df: pd.DataFrame) -> Figure:
    """The network of ``df``'s runs (one model) coloured by mean final % active and learned lr."""
    from hippo_bench.plotting.data import Selection
    from hippo_bench.plotting.network import network_figure

    ok = df[df["status"] == "ok"] if "status" in df.columns else df
    return network_figure(Selection(str(ok["model"].iloc[0]), "config", ok.reset_index(drop=True)))


def grouped_bars(panels: dict[str, dict[str, dict[str, np.ndarray]]], ylabel: str, title: str,
                 chance: dict[str, float] | None = None) -> Figure:
    """One panel per key of ``panels``: per measure (x groups) per condition (bar colour), mean and seed dots.

    ``panels[panel][measure][condition]`` holds the per-seed values;
    ``chance[panel]`` draws a dashed reference line.
    """
    conditions = list(dict.fromkeys(c for p in panels.values() for m in p.values() for c in m))
    colours = {c: OKABE_ITO[i % len(OKABE_ITO)] for i, c in enumerate(conditions)}
    fig = new_figure(max(6.4, 3.4 * len(panels)), 3.6)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    width = min(0.8 / max(len(conditions), 1), 0.22)
    for ax, (panel, measures) in zip(axes, panels.items()):
        for m_i, (measure, by_condition) in enumerate(measures.items()):
            for c_i, condition in enumerate(conditions):
                if condition not in by_condition:
                    continue
                x = m_i + (c_i - (len(conditions) - 1) / 2) * width
                bars_with_dots(ax, [], [by_condition[condition]], [colours[condition]], positions=[x], width=width)
        ax.set_xticks(range(len(measures)), list(measures))
        ax.set_xlim(-0.5, len(measures) - 0.5)
        if chance and panel in chance:
            ax.axhline(chance[panel], color="#555555", linestyle="--", linewidth=0.9, zorder=1)
        ax.set_title(panel, loc="left")
        ax.set_ylabel(ylabel)
    handles = [_patch(colours[c], c) for c in conditions]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False)
    fig.suptitle(title)
    return fig


def lesion_bars(t: pd.DataFrame) -> Figure:
    """Item and category accuracy intact and with each branch lesioned, one panel per protocol."""
    panels = {}
    for protocol, rows in t.sort_values(["epochs", "items"]).groupby("protocol", sort=False):
        panels[f"protocol: {protocol}"] = {
            memory: {"intact": rows[f"{memory}_intact"].to_numpy(),
                     "large branch lesioned": rows[f"{memory}_no_large"].to_numpy(),
                     "small branch lesioned": rows[f"{memory}_no_small"].to_numpy()}
            for memory in ("item", "category")}
    return grouped_bars(panels, "accuracy on the studied images",
                        "Memory with each branch removed: bars = mean over seeds, dots = seeds")


def gate_bars(table: pd.DataFrame) -> Figure:
    """Share of seeds whose learned gate keeps each projection open at the end of the stream."""
    fig = new_figure(max(6.4, 0.55 * len(table) + 2.0), 3.6)
    ax = fig.subplots()
    groups = table["group"].fillna("").astype(str).tolist()
    colours = _group_colours(groups)
    xs = np.arange(len(table))
    ax.bar(xs, table["open_share"], color=[colours[g] for g in groups], alpha=0.85, edgecolor="none", zorder=2)
    ax.axhline(0.8, color="#555555", linestyle="--", linewidth=0.9, zorder=1)
    ax.set_xticks(xs, table["projection"], rotation=45, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of seeds with the gate open")
    ax.grid(axis="y", color="#dddddd", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    handles = [_patch(colours[g], g or "other") for g in dict.fromkeys(groups)]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False)
    fig.suptitle("Pathways the meta-learner keeps (dashed: 80% of seeds)")
    return fig
