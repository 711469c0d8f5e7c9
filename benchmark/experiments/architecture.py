"""The poster's "architecture learning" question: which pathways does the meta-learner keep?

``meta-hippo-gated`` learns, besides m and lr, a binary gate per projection
(sparse-MAML's straight-through masks); a closed gate cuts the projection.
On the seed's dual-pathway protocol (``seed-dual-mnist``), the stated
hypothesis is that both branches are kept: every projection into and out of
the large (trisynaptic-like) and the small (monosynaptic-like) branch ends
open. It holds when each of them is open at the end of the stream in >= 80%
of at least 5 seeds. Beside it the report shows each projection's share of
seeds with the gate open, its final score, and the ACC of the gated net
against meta-hippo without gates on the same seeds (paired, median
difference and a two-sided Wilcoxon p), so a kept or cut pathway can be read
against what it costs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from hippo_bench.experiments.base import FAILS, HOLDS, INCONCLUSIVE, Experiment, Verdict, final_rows
from hippo_bench.experiments.claims import QUICK_BENCH
from hippo_bench.experiments.stats import MIN_SEEDS, SHARE

BRANCHES = ("large", "small")
QUICK_DUAL = {"model": "dual", "model_params": {"shared": [16, 16, 16], "large": 40, "small": 10}}


def branch_projections(entities) -> list[str]:
    """The projections into or out of a branch (names like ``h3->large``, ``large->item``)."""
    return sorted({e for e in entities if any(b in e.split("->") for b in BRANCHES)})


def gate_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per projection (in the network's order): seeds, share of seeds with the gate open at the end, mean final score."""
    gates, scores = final_rows(df, "gate"), final_rows(df, "gate_score")
    if gates.empty:
        return pd.DataFrame(columns=["projection", "group", "seeds", "open_share", "mean_score"])
    g = gates.groupby(["entity", "group"])["value"].agg(seeds="count", open_share=lambda v: float((v > 0.5).mean()))
    s = scores.groupby("entity")["value"].mean().rename("mean_score")
    out = g.reset_index().join(s, on="entity").rename(columns={"entity": "projection"})
    order = {e: i for i, e in enumerate(dict.fromkeys(gates["entity"]))}  # the network's order, input first
    return out.sort_values("projection", key=lambda c: c.map(order)).reset_index(drop=True)


def paired_acc(df: pd.DataFrame) -> pd.DataFrame:
    """Final ACC (mean accuracy after the last experience) per seed of the gated net and of meta-hippo, side by side."""
    empty = pd.DataFrame(columns=["seed", "gated", "ungated"])
    acc = df[(df["status"] == "ok") & (df["metric"] == "accuracy") & (df["eval_exp"] >= 0)] if not df.empty else df
    if acc.empty:
        return empty
    last = acc[acc["train_exp"] == acc.groupby("run_id")["train_exp"].transform("max")]
    per_run = last.groupby(["run_id", "strategy", "seed"], as_index=False)["value"].mean()
    wide = per_run.pivot_table(index="seed", columns="strategy", values="value", aggfunc="mean")
    wide = wide.rename(columns={"meta-hippo-gated": "gated", "meta-hippo": "ungated"})
    if not {"gated", "ungated"} <= set(wide.columns):
        return empty
    return wide[["gated", "ungated"]].dropna().reset_index().rename_axis(columns=None)


def _acc_text(acc: pd.DataFrame) -> str:
    if acc.empty:
        return "no paired ACC"
    d = (acc["gated"] - acc["ungated"]).to_numpy(dtype=float)
    p = math.nan
    if len(d) >= 2 and np.any(d != 0):
        from scipy import stats

        p = float(stats.wilcoxon(d).pvalue)
    return f"ACC gated - ungated: median {np.median(d):+.3f} over {len(d)} seeds (two-sided Wilcoxon p = {p:.3g})"


class Architecture(Experiment):
    name = "architecture"
    claim = ("Given a learned on/off gate per projection (meta-hippo-gated), the meta-learner keeps both branches of "
             "the dual-pathway net: every projection into and out of the large and the small branch ends open.")

    def configs(self, seeds, quick):
        if quick:
            base = {**QUICK_BENCH, **QUICK_DUAL}
        else:
            base = {"preset": "seed-dual-mnist"}
        return [{**base, "strategy": "meta-hippo-gated", "seeds": seeds},
                {**base, "strategy": "meta-hippo", "seeds": seeds}]

    def analyse(self, df):
        gated = df[df["strategy"] == "meta-hippo-gated"] if not df.empty else df
        table = gate_table(gated)
        acc = paired_acc(df)
        if table.empty:
            return Verdict(self.name, self.claim, INCONCLUSIVE, "no meta-hippo-gated runs", 0, table,
                           {"acc": acc})
        branch = table[table["projection"].isin(branch_projections(table["projection"]))]
        n = int(table["seeds"].min())
        kept = [f"{r.projection} open in {round(r.open_share * r.seeds)}/{r.seeds}" for r in branch.itertuples()]
        closed = [f"{r.projection} ({round(r.open_share * r.seeds)}/{r.seeds})"
                  for r in table.itertuples() if r.open_share < SHARE]
        text = "; ".join(kept) + ("; closed in over 20% of seeds: " + ", ".join(closed) if closed else "")
        text += "; " + _acc_text(acc)
        if branch.empty or n < MIN_SEEDS:
            verdict = INCONCLUSIVE
        else:
            verdict = HOLDS if (branch["open_share"] >= SHARE).all() else FAILS
        return Verdict(self.name, self.claim, verdict, text, n, table, {"acc": acc})

    def figures(self, df):
        from hippo_bench.plotting.claims import gate_bars

        gated = df[df["strategy"] == "meta-hippo-gated"] if not df.empty else df
        table = gate_table(gated)
        return {"gates": gate_bars(table)} if not table.empty else {}
