"""C-HORSE reference values and the comparison table printed at the end of a cls-pairs run.

Pair vs non-pair pattern similarity per hippocampal layer in C-HORSE on
the pair-structure paradigm (Schapiro et al. 2017), from the Schapiro lab's
Emergent replication (github.com/schapirolab/hip-sl), as quoted in
hippo-bench issue 5. C-HORSE reports an "initial" response (the first,
feed-forward sweep of activity) and a "settled" one (after the big loop,
ECout -> ECin, has settled). Our networks make one feed-forward pass, so
our numbers compare with the initial response; we have no settled one.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd
from rich.table import Table

from hippo_bench.analysis.cls_report import final_measures, fmt_cell

# layer -> response -> (pair similarity, non-pair similarity)
CHORSE_PAIR_SIMILARITY: dict[str, dict[str, tuple[float, float]]] = {
    "DG": {"initial": (0.26, 0.12), "settled": (0.71, 0.04)},
    "CA3": {"initial": (0.07, 0.07), "settled": (0.67, -0.04)},
    "CA1": {"initial": (0.72, 0.25), "settled": (0.86, 0.18)},
}


def reference_layer(entity: str) -> str | None:
    """The C-HORSE layer a model's layer name stands for ("CA1", "hippo.ca1" -> "CA1"), if any."""
    key = entity.rsplit(".", 1)[-1].upper()
    return key if key in CHORSE_PAIR_SIMILARITY else None


def chorse_comparison_table(tables: Sequence[pd.DataFrame]) -> Table:
    """Per layer: our pair and non-pair similarity after the last experience beside C-HORSE's."""
    t = Table(title="C-HORSE comparison: pair vs non-pair pattern similarity per layer (intact, after the last "
                    "experience)", title_justify="left",
              caption="ours = one feed-forward pass, i.e. C-HORSE's 'initial' response; no settling loop, so "
                      "ours has no 'settled' response. C-HORSE: Schapiro lab Emergent replication (hip-sl).",
              caption_justify="left")
    for col in ("layer", "group", "ours: pair", "ours: non-pair", "C-HORSE initial: pair", "initial: non-pair",
                "settled: pair", "settled: non-pair"):
        t.add_column(col, justify="left" if col in ("layer", "group") else "right")
    fm = final_measures(tables)
    fm = fm[(fm["stage"] == "final") & (fm["lesion"] == "")]
    cells = {(r.metric, r.entity): fmt_cell(r.mean, r.sd, int(r.n)) for r in fm.itertuples(index=False)}
    layers = list(dict.fromkeys((r.entity, r.group) for r in fm.itertuples(index=False)
                                if r.metric in ("similarity_pair", "similarity_nonpair")))
    for entity, group in layers:
        ref = CHORSE_PAIR_SIMILARITY.get(reference_layer(entity) or "", {})
        refs = [f"{v:.2f}" for response in ("initial", "settled") for v in ref.get(response, ())] or ["—"] * 4
        t.add_row(entity, group, cells.get(("similarity_pair", entity), "—"),
                  cells.get(("similarity_nonpair", entity), "—"), *refs)
    return t
