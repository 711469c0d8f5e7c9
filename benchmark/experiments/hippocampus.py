"""Claim 4, hippocampus vs neocortex: on the C-HORSE network the hippocampal layers end sparser and faster.

Runs: meta-hippo (both learned) on ``chorse`` (NC -> ECin -> DG -> CA3 -> CA1,
ECin -> CA1, CA1 -> ECout) on a CLS benchmark (``cls-pairs``), with the meta
step sizes of the seed's dual task (m 0.2, alpha 2e-3: the defaults of the
rotated-MNIST protocol barely move m and alpha in the 4 x 400 trials of the
CLS streams).

Per seed, after the last experience:
- % active: mean over the hippocampal layers (DG, CA3, CA1) minus the mean
  over the cortical ones (every other hidden layer: NC and EC; EC is the
  cortical gateway in C-HORSE); predicted < 0;
- learned lr: mean relu(alpha) of the projections into hippocampal layers
  minus that of the projections into cortical layers (the output
  projections are left out: claim 5 is about them); predicted > 0;
- order DG < CA3 < CA1 in % active (C-HORSE: 1% / 6% / 25%, Schapiro et
  al. 2017): the count of seeds with the strict order and Page's L trend
  test over seeds (scipy.stats.page_trend_test, the predicted order of the
  columns).

Verdict (:mod:`.stats`): holds when each of the three has the predicted
sign or order in >= 80% of the seeds and p < 0.05 (one-sided Wilcoxon for
the two differences, Page's test for the order).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from hippo_bench.experiments.base import INCONCLUSIVE, Experiment, Verdict, final_rows
from hippo_bench.experiments.claims import QUICK_BENCH
from hippo_bench.experiments.stats import Directional, decide, directional

HIPPOCAMPAL = ("dg", "ca3", "ca1")  # in the predicted order of % active
CHORSE_ACTIVE = {"dg": 1.0, "ca3": 6.0, "ca1": 25.0}  # % active in C-HORSE (Schapiro et al. 2017)
BENCHMARK = "cls-pairs"
META_STEPS = {"m_lr": 0.2, "alpha_lr": 0.002}  # the seed's dual-task meta step sizes
QUICK_CHORSE = {"benchmark": "cls-pairs", "benchmark_params": {"n_experiences": 2, "trials_per_exp": 40,
                                                               "meta_train_episodes": 2},
                "model": "chorse", "model_params": {"neocortex": [16], "ec": 16, "scale": 0.2}}


def pattern_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per run: final % active of each hippocampal layer, hippocampal and cortical means of % active and of the
    learned lr of the projections into them."""
    active, lr = final_rows(df, "percent_active"), final_rows(df, "learned_lr")
    out = []
    for run_id, a in active.groupby("run_id", sort=True):
        layers = dict(zip(a["entity"].str.lower(), a["value"]))
        if not all(h in layers for h in HIPPOCAMPAL):
            continue
        cortical = [k for k in layers if k not in HIPPOCAMPAL]
        into: dict[str, list[float]] = {"hippocampal": [], "cortical": []}
        for r in lr[lr["run_id"] == run_id].itertuples(index=False):
            dst = r.entity.split("->")[-1].lower()
            if dst in HIPPOCAMPAL:
                into["hippocampal"].append(r.value)
            elif dst in layers:
                into["cortical"].append(r.value)
        rec = dict(run_id=run_id, seed=int(a["seed"].iloc[0]))
        rec.update({f"active_{h}": layers[h] for h in HIPPOCAMPAL})
        rec["active_hippocampal"] = float(np.mean([layers[h] for h in HIPPOCAMPAL]))
        rec["active_cortical"] = float(np.mean([layers[c] for c in cortical])) if cortical else math.nan
        rec["lr_hippocampal"] = float(np.mean(into["hippocampal"])) if into["hippocampal"] else math.nan
        rec["lr_cortical"] = float(np.mean(into["cortical"])) if into["cortical"] else math.nan
        rec["ordered"] = bool(layers["dg"] < layers["ca3"] < layers["ca1"])
        out.append(rec)
    return pd.DataFrame(out)


def order_test(t: pd.DataFrame) -> Directional:
    """Seeds with DG < CA3 < CA1 in % active, and Page's L test of that order over seeds."""
    from scipy import stats

    data = t[[f"active_{h}" for h in HIPPOCAMPAL]].dropna().to_numpy()
    n = len(data)
    p = float(stats.page_trend_test(data).pvalue) if n >= 2 else math.nan
    median = float(np.median(data[:, -1] - data[:, 0])) if n else math.nan
    return Directional("DG < CA3 < CA1 in % active", int(t["ordered"].sum()), n, p, median,
                       test="Page's L trend test; median CA1 - DG")


def reference_table(t: pd.DataFrame) -> pd.DataFrame:
    """Measured % active per hippocampal layer (mean, SD over seeds) beside C-HORSE's."""
    rows = [dict(layer=h.upper(), measured_mean=t[f"active_{h}"].mean(), measured_sd=t[f"active_{h}"].std(),
                 chorse=CHORSE_ACTIVE[h], n=int(t[f"active_{h}"].count())) for h in HIPPOCAMPAL]
    return pd.DataFrame(rows)


class Hippocampus(Experiment):
    name = "hippocampus"
    claim = ("On the C-HORSE network (chorse), the hippocampal layers (DG, CA3, CA1) end sparser and with faster "
             "incoming learning rates than the cortical ones, and DG < CA3 < CA1 in % active as in C-HORSE "
             "(1% / 6% / 25%).")

    def configs(self, seeds, quick):
        if quick:
            keep = {k: v for k, v in QUICK_BENCH.items() if k not in ("benchmark", "benchmark_params")}
            return [{**keep, **QUICK_CHORSE, **META_STEPS, "seeds": seeds}]
        return [{"benchmark": BENCHMARK, "strategy": "meta-hippo", "model": "chorse", "condition": "both",
                 **META_STEPS, "seeds": seeds}]

    def analyse(self, df):
        t = pattern_table(df) if not df.empty else pd.DataFrame()
        if t.empty:
            return Verdict(self.name, self.claim, INCONCLUSIVE, "no chorse layer rows (DG, CA3, CA1)", 0, t)
        tests = [directional("hippocampal layers sparser", t["active_hippocampal"] - t["active_cortical"], -1),
                 directional("faster into hippocampal layers", t["lr_hippocampal"] - t["lr_cortical"], +1),
                 order_test(t)]
        ref = reference_table(t)
        measured = " / ".join(f"{r.layer} {r.measured_mean:.1f}%" for r in ref.itertuples(index=False))
        text = "; ".join(x.text() for x in tests) + f"; measured {measured} (C-HORSE 1% / 6% / 25%)"
        n = int(t["seed"].nunique())
        return Verdict(self.name, self.claim, decide(tests, n), text, n, t, tables={"chorse-reference": ref})

    def figures(self, df):
        from hippo_bench.plotting.claims import pattern_bars, pathway_diagram

        rows = df[df["model"] == "chorse"]
        if final_rows(rows, "percent_active").empty:
            return {}
        return {"pattern-by-layer": pattern_bars(rows, reference=CHORSE_ACTIVE),
                "pathways": pathway_diagram(rows)}
