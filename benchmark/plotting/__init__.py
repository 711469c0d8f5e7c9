"""Figures from tidy results (matplotlib, Agg; PNG and SVG, byte-identical from the same rows).

:func:`plot_selection` draws every figure a run or configuration supports:

- ``accuracy-matrix``: R[i, j] as a heatmap (:mod:`.accuracy`);
- ``forgetting``: each experience's accuracy over training (:mod:`.accuracy`);
- ``pattern``: % active and m per layer, learned lr per projection over
  training, mean and band over seeds (:mod:`.pattern`);
- ``network``: the network with its learned pattern, for HippoNets (:mod:`.network`);
- ``correlations``: item x item pattern correlations per layer, for the CLS
  tasks (:mod:`.similarity`).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from hippo_bench.plotting.data import Selection, has_accuracy, select

__all__ = ["Figure", "figure_kinds", "plot", "plot_selection", "select", "Selection"]


@dataclasses.dataclass(frozen=True)
class Figure:
    """A kind of figure: its file stem, a caption, when it applies and how it is drawn."""

    stem: str
    caption: str
    applies: Callable[[Selection], bool]
    draw: Callable[[Selection], object]


@functools.lru_cache(maxsize=None)
def figure_kinds() -> tuple[Figure, ...]:
    """Every kind of figure, in the order pages show them."""
    from hippo_bench.plotting.accuracy import accuracy_heatmap, forgetting_curves, has_curves
    from hippo_bench.plotting.network import can_draw, network_figure
    from hippo_bench.plotting.pattern import has_pattern, pattern_over_training
    from hippo_bench.plotting.similarity import correlation_matrices, has_correlations

    return (
        Figure("network", "The network with its learned pattern: layers coloured by % active, projections by "
               "learned learning rate (end of training).", can_draw, network_figure),
        Figure("accuracy-matrix", "Accuracy matrix: test accuracy on experience j after training experience i.",
               has_accuracy, accuracy_heatmap),
        Figure("forgetting", "Accuracy of each experience from when it is learned to the end of the stream.",
               has_curves, forgetting_curves),
        Figure("pattern", "% active and inhibition m per layer and learned learning rate per projection, after "
               "every experience.", has_pattern, pattern_over_training),
        Figure("correlations", "Pattern correlation between items in each layer at the final evaluation.",
               has_correlations, correlation_matrices),
    )


def plot_selection(sel: Selection, out_dir: Path, prefix: str = "",
                   only: Sequence[str] | None = None) -> list[tuple[Figure, list[Path]]]:
    """Draw and save every figure that applies to ``sel`` (or those of ``only``) as
    ``<out_dir>/<prefix><stem>.png`` and ``.svg``; returns (kind, [png, svg]) per figure."""
    from hippo_bench.plotting.style import save, styled

    written = []
    for kind in figure_kinds():
        if only and kind.stem not in only:
            continue
        with styled():
            if not kind.applies(sel):
                continue
            fig = kind.draw(sel)
            paths = save(fig, Path(out_dir), f"{prefix}{kind.stem}")
        written.append((kind, paths))
    return written


def plot(df: pd.DataFrame, ident: str, out_dir: Path) -> list[tuple[Figure, list[Path]]]:
    """Figures of run or configuration ``ident`` of the results ``df`` under ``out_dir``."""
    return plot_selection(select(df, ident), out_dir)
