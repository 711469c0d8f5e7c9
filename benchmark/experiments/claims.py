"""Three of the poster's claims about the learned pattern, each a statistic over seeds.

- depth hierarchy: in 2- and 4-layer nets, the learned lr rises and % active falls with depth
  (Spearman rho of depth against each, per seed; holds when >= 80% of seeds have both signs);
- dual pathways: the large branch ends sparser and faster than the small one (paired over seeds,
  one-sided Wilcoxon signed-rank from :mod:`.stats`; holds when >= 80% of seeds agree and p < 0.05 for both);
- last projection fastest: the largest learned lr is the projection into the output layer, and so
  is the largest relative step lr |dW| / |W| (the control for gradient scale).

Below five seeds a verdict is "inconclusive" whatever the counts.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from hippo_bench.experiments.base import FAILS, HOLDS, INCONCLUSIVE, Experiment, Verdict, final_rows
from hippo_bench.experiments.stats import MIN_SEEDS, SHARE, decide, directional


QUICK_BENCH = {"benchmark": "split-patterns",
               "benchmark_params": {"n_classes": 4, "classes_per_exp": 2, "dim": 16, "train_per_class": 10,
                                    "test_per_class": 5},
               "strategy": "meta-hippo", "condition": "both", "alpha_lr": 0.01, "m_lr": 0.05, "batch_size": 5}


def _depth(layer: str) -> int | None:
    """h3 -> 3 (hidden layers of mlp2/mlp4)."""
    m = re.fullmatch(r"h(\d+)", layer)
    return int(m.group(1)) if m else None


def depth_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per run: depth of every hidden layer with its final % active, and of every projection with its final lr.

    A projection's depth is that of the layer it feeds; the output layer is one deeper than the last hidden one.
    """
    active = final_rows(df, "percent_active")
    lr = final_rows(df, "learned_lr")
    out = []
    for run_id, rows in active.groupby("run_id", sort=True):
        layers = {e: _depth(e) for e in rows["entity"] if _depth(e) is not None}
        if not layers:
            continue
        deepest = max(layers.values())
        seed, model = int(rows["seed"].iloc[0]), str(rows["model"].iloc[0])
        for r in rows.itertuples(index=False):
            if r.entity in layers:
                out.append(dict(run_id=run_id, model=model, seed=seed, kind="layer", entity=r.entity,
                                depth=layers[r.entity], value=r.value))
        for r in lr[lr["run_id"] == run_id].itertuples(index=False):
            dst = r.entity.split("->")[-1]
            d = layers.get(dst, deepest + 1)
            out.append(dict(run_id=run_id, model=model, seed=seed, kind="projection", entity=r.entity, depth=d,
                            value=r.value))
    return pd.DataFrame(out)


def spearman_per_run(table: pd.DataFrame) -> pd.DataFrame:
    """Per run: Spearman rho of depth vs learned lr and of depth vs % active."""
    from scipy import stats

    out = []
    for run_id, rows in table.groupby("run_id", sort=True):
        layer, proj = rows[rows["kind"] == "layer"], rows[rows["kind"] == "projection"]
        rho_lr = stats.spearmanr(proj["depth"], proj["value"]).statistic if len(proj) > 1 else np.nan
        rho_act = stats.spearmanr(layer["depth"], layer["value"]).statistic if len(layer) > 1 else np.nan
        out.append(dict(run_id=run_id, model=rows["model"].iloc[0], seed=int(rows["seed"].iloc[0]),
                        rho_lr=float(rho_lr), rho_active=float(rho_act)))
    return pd.DataFrame(out)


def _verdict(counts: list[tuple[int, int]], extra_ok: bool = True) -> str:
    """holds / does not hold / inconclusive from (agreeing, total) pairs."""
    if not counts or min(n for _, n in counts) < MIN_SEEDS:
        return INCONCLUSIVE
    return HOLDS if all(k >= SHARE * n for k, n in counts) and extra_ok else FAILS


class DepthHierarchy(Experiment):
    name = "depth"
    claim = ("In 2- and 4-layer nets, the meta-learned learning rate rises and the share of active units falls "
             "with depth.")

    def configs(self, seeds, quick):
        if quick:
            return [{**QUICK_BENCH, "model": "mlp2", "model_params": {"hidden": [16, 16]}, "seeds": seeds},
                    {**QUICK_BENCH, "model": "mlp4", "model_params": {"hidden": [12, 12, 12, 12]}, "seeds": seeds}]
        return [{"preset": "seed-rotated-mnist", "seeds": seeds}, {"preset": "seed-rotated-mnist-4layer", "seeds": seeds}]

    def analyse(self, df):
        rho = spearman_per_run(depth_table(df))
        if rho.empty:
            return Verdict(self.name, self.claim, INCONCLUSIVE, "no meta-hippo layer rows", 0, rho)
        counts, parts = [], []
        for model, rows in rho.groupby("model", sort=True):
            k_lr, k_act, n = int((rows["rho_lr"] > 0).sum()), int((rows["rho_active"] < 0).sum()), len(rows)
            counts += [(k_lr, n), (k_act, n)]
            parts.append(f"{model}: lr rises with depth in {k_lr}/{n} seeds (median rho {rows['rho_lr'].median():+.2f}),"
                         f" % active falls in {k_act}/{n} (median rho {rows['rho_active'].median():+.2f})")
        return Verdict(self.name, self.claim, _verdict(counts), "; ".join(parts), int(rho["seed"].nunique()), rho)

    def figures(self, df):
        from hippo_bench.plotting.claims import pattern_bars, trajectories

        if final_rows(df, "percent_active").empty:
            return {}
        return {"pattern-by-layer": pattern_bars(df), "trajectories": trajectories(df)}


class DualPathways(Experiment):
    name = "dual"
    claim = "In the dual-pathway net, the large (trisynaptic-like) branch ends sparser and faster than the small one."

    def configs(self, seeds, quick):
        if quick:
            return [{**QUICK_BENCH, "model": "dual",
                     "model_params": {"shared": [16, 16, 16], "large": 40, "small": 10}, "seeds": seeds}]
        return [{"preset": "seed-dual-mnist", "seeds": seeds}]

    def analyse(self, df):
        active, lr = final_rows(df, "percent_active"), final_rows(df, "learned_lr")
        rows = []
        for run_id, a in active.groupby("run_id", sort=True):
            act = dict(zip(a["entity"], a["value"]))
            lrs = dict(zip(lr.loc[lr["run_id"] == run_id, "entity"], lr.loc[lr["run_id"] == run_id, "value"]))
            into = {b: next((v for k, v in lrs.items() if k.endswith("->" + b)), np.nan) for b in ("large", "small")}
            if "large" in act and "small" in act:
                rows.append(dict(run_id=run_id, seed=int(a["seed"].iloc[0]), active_large=act["large"],
                                 active_small=act["small"], lr_large=into["large"], lr_small=into["small"]))
        t = pd.DataFrame(rows)
        if t.empty:
            return Verdict(self.name, self.claim, INCONCLUSIVE, "no dual-pathway rows", 0, t)
        sparser = directional("large sparser", t["active_large"] - t["active_small"], -1)
        faster = directional("large faster", t["lr_large"] - t["lr_small"], +1)
        text = f"{sparser.text()}; {faster.text()}"
        n = len(t)
        return Verdict(self.name, self.claim, decide([sparser, faster], n), text, n, t)

    def figures(self, df):
        from hippo_bench.plotting.claims import pathway_diagram, pattern_bars

        rows = df[df["model"] == "dual"]
        if final_rows(rows, "percent_active").empty:
            return {}
        return {"pattern-by-layer": pattern_bars(rows), "pathways": pathway_diagram(rows)}


class LastProjectionFastest(Experiment):
    name = "last-projection"
    claim = ("The largest meta-learned learning rate is that of the projection into the output layer, also after "
             "normalising by gradient scale (relative step lr |dW| / |W|).")

    def configs(self, seeds, quick):
        return DepthHierarchy().configs(seeds, quick)

    def analyse(self, df):
        rows = []
        for metric in ("learned_lr", "relative_step"):
            for run_id, r in final_rows(df, metric).groupby("run_id", sort=True):
                top = r.loc[r["value"].idxmax()]
                rows.append(dict(run_id=run_id, model=r["model"].iloc[0], seed=int(r["seed"].iloc[0]), measure=metric,
                                 top=top["entity"], output_is_top=top["group"] == "output"))
        t = pd.DataFrame(rows)
        if t.empty:
            return Verdict(self.name, self.claim, INCONCLUSIVE, "no learned-lr rows", 0, t)
        counts, parts = [], []
        for (model, measure), r in t.groupby(["model", "measure"], sort=True):
            k, n = int(r["output_is_top"].sum()), len(r)
            counts.append((k, n))
            parts.append(f"{model} {measure}: output projection largest in {k}/{n} seeds")
        return Verdict(self.name, self.claim, _verdict(counts), "; ".join(parts), int(t["seed"].nunique()), t)
