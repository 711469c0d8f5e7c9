"""Claim 1, robustness: learning m and lr removes the sensitivity of rotated-MNIST ACC to alpha_init.

Runs: meta-hippo on the seed's rotated-MNIST protocol (preset
``seed-rotated-mnist``) in the conditions ``baseline`` (nothing learned) and
``both`` (m and lr learned) over the seed's 12 alpha_init values. The seed's
code gives baseline 0.11 -> 0.62 and both 0.54 -> 0.64 across the grid.

Statistic:
- spread of final ACC across the grid per condition: max - min of the
  per-cell seed means, and the SD of those 12 means (ddof 1);
- per seed, the same max - min over that seed's grid; the paired difference
  both - baseline is tested one-sided (Wilcoxon, :mod:`.stats`);
- per cell, both vs baseline paired over seeds: paired t-test
  (scipy.stats.ttest_rel, two-sided: the direction may differ between
  cells), with Holm's adjustment over the cells;
- % active at equal ACC: in cells where the two conditions' mean ACC differ
  by less than :data:`EQUAL_ACC`, the mean % active (over hidden layers) of
  each condition.

Verdict: holds when both's per-seed spread is smaller than baseline's (share
of seeds and one-sided p, as every claim), both's spread of cell means is
smaller than baseline's, and both's worst cell is above baseline's worst
cell (a condition that is uniformly poor would also have a small spread:
robustness must not come from losing accuracy everywhere).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from hippo_bench.experiments.base import INCONCLUSIVE, Experiment, Verdict, final_rows
from hippo_bench.experiments.claims import QUICK_BENCH
from hippo_bench.experiments.stats import decide, directional

ALPHA_GRID = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5)  # the seed's grid
QUICK_ALPHAS = (0.001, 0.01, 0.1)
CONDITIONS = ("baseline", "both")
EQUAL_ACC = 0.02  # cells whose mean ACC differ by less than this count as "equal ACC"


def final_acc(df: pd.DataFrame) -> pd.DataFrame:
    """Per run: ACC = mean over test experiences of the intact accuracy after the last experience."""
    rows = df[(df["metric"] == "accuracy") & (df["lesion"] == "") & (df["eval_exp"] >= 0) & (df["train_exp"] >= 0)]
    if rows.empty:
        return pd.DataFrame(columns=["run_id", "acc"])
    rows = rows[rows["train_exp"] == rows.groupby("run_id")["train_exp"].transform("max")]
    per_exp = rows.groupby(["run_id", "eval_exp"])["value"].mean()  # a repeated row counts once
    return per_exp.groupby("run_id").mean().rename("acc").reset_index()


def run_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per run: seed, condition, alpha_init, ACC and the mean % active over its hidden layers (final)."""
    cols = ["run_id", "seed", "condition", "alpha_init", "acc", "percent_active"]
    acc = final_acc(df)
    if acc.empty:
        return pd.DataFrame(columns=cols)
    ident = df.drop_duplicates("run_id").set_index("run_id")
    active = final_rows(df, "percent_active").groupby("run_id")["value"].mean()
    out = []
    for r in acc.itertuples(index=False):
        params = json.loads(ident.loc[r.run_id, "strategy_params"])
        out.append(dict(run_id=r.run_id, seed=int(ident.loc[r.run_id, "seed"]), condition=params.get("condition"),
                        alpha_init=float(params.get("alpha_init", math.nan)), acc=float(r.acc),
                        percent_active=float(active.get(r.run_id, math.nan))))
    return pd.DataFrame(out, columns=cols).sort_values(["condition", "alpha_init", "seed"]).reset_index(drop=True)


def cell_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per alpha_init: each condition's mean and SD of ACC and mean % active, and the paired t-test."""
    from scipy import stats

    out = []
    for alpha, cell in runs.groupby("alpha_init", sort=True):
        rec: dict = {"alpha_init": alpha}
        for cond in CONDITIONS:
            c = cell[cell["condition"] == cond]
            rec[f"acc_{cond}"] = c["acc"].mean()
            rec[f"sd_{cond}"] = c["acc"].std()
            rec[f"active_{cond}"] = c["percent_active"].mean()
        paired = (cell[cell["condition"] == "both"].set_index("seed")["acc"]
                  - cell[cell["condition"] == "baseline"].set_index("seed")["acc"]).dropna()
        rec["n_pairs"] = len(paired)
        rec["diff"] = paired.mean() if len(paired) else math.nan
        rec["t"], rec["p"] = math.nan, math.nan
        if len(paired) >= 2 and paired.std() > 1e-12:  # identical pairs: no test (and no round-off noise)
            res = stats.ttest_1samp(paired.to_numpy(), 0.0)  # = ttest_rel(both, baseline) on the pairs
            rec["t"], rec["p"] = float(res.statistic), float(res.pvalue)
        out.append(rec)
    cells = pd.DataFrame(out)
    if not cells.empty:
        cells["p_holm"] = holm(cells["p"].to_numpy())
    return cells


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN stays NaN and does not count)."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = len(idx)
    running = 0.0
    for rank, i in enumerate(idx[np.argsort(p[idx], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def spreads(runs: pd.DataFrame) -> pd.DataFrame:
    """Per seed and condition: max - min of ACC over the alpha_init grid."""
    g = runs.groupby(["seed", "condition"])["acc"]
    return (g.max() - g.min()).rename("spread").reset_index()


class Robustness(Experiment):
    name = "robustness"
    claim = ("Learning m and lr removes the sensitivity to the initial learning rate: on the seed's rotated-MNIST "
             "protocol, ACC of `both` varies less across the 12 alpha_init values than ACC of `baseline` "
             "(seed code: baseline 0.11 -> 0.62, both 0.54 -> 0.64).")

    def configs(self, seeds, quick):
        if quick:
            base = {**QUICK_BENCH, "model": "mlp2", "model_params": {"hidden": [16, 16]}}
            return [{**base, "condition": c, "alpha_init": a, "seeds": seeds} for c in CONDITIONS for a in QUICK_ALPHAS]
        return [{"preset": "seed-rotated-mnist", "condition": c, "alpha_init": a, "seeds": seeds}
                for c in CONDITIONS for a in ALPHA_GRID]

    def analyse(self, df):
        runs = run_table(df) if not df.empty else pd.DataFrame()
        if runs.empty or set(runs["condition"]) < set(CONDITIONS):
            return Verdict(self.name, self.claim, INCONCLUSIVE, "no ACC rows of both conditions", 0, runs)
        cells = cell_table(runs)
        spread = {c: float(cells[f"acc_{c}"].max() - cells[f"acc_{c}"].min()) for c in CONDITIONS}
        sd = {c: float(cells[f"acc_{c}"].std()) for c in CONDITIONS}
        worst = {c: float(cells[f"acc_{c}"].min()) for c in CONDITIONS}
        per_seed = spreads(runs).pivot(index="seed", columns="condition", values="spread").dropna()
        test = directional("both's spread below baseline's", per_seed["both"] - per_seed["baseline"], -1)
        equal = cells[(cells["acc_both"] - cells["acc_baseline"]).abs() < EQUAL_ACC]
        n_seeds = int(runs["seed"].nunique())
        extra_ok = spread["both"] < spread["baseline"] and worst["both"] > worst["baseline"]
        better = int(((cells["p_holm"] < 0.05) & (cells["diff"] > 0)).sum())
        worse = int(((cells["p_holm"] < 0.05) & (cells["diff"] < 0)).sum())
        text = (f"spread of ACC over {len(cells)} alpha_init cells (max - min of seed means): baseline "
                f"{spread['baseline']:.3f} ({worst['baseline']:.3f} -> {cells['acc_baseline'].max():.3f}), both "
                f"{spread['both']:.3f} ({worst['both']:.3f} -> {cells['acc_both'].max():.3f}); SD of cell means "
                f"baseline {sd['baseline']:.3f}, both {sd['both']:.3f}; per-seed spread: {test.text()}; paired t "
                f"per cell (Holm): both better in {better}, worse in {worse} of {len(cells)}")
        if len(equal):
            cells_text = f"{len(equal)} cell{'s' if len(equal) != 1 else ''}"
            text += (f"; at equal ACC (|diff| < {EQUAL_ACC}, {cells_text}) % active both "
                     f"{equal['active_both'].mean():.1f} vs baseline {equal['active_baseline'].mean():.1f}")
        else:
            text += f"; no cell with equal ACC (|diff| < {EQUAL_ACC})"
        verdict = decide([test], n_seeds, extra_ok)
        return Verdict(self.name, self.claim, verdict, text, n_seeds, runs,
                       tables={"cells": cells, "per-seed-spread": per_seed.reset_index()})

    def figures(self, df):
        from hippo_bench.plotting.claims import accuracy_vs_alpha

        runs = run_table(df)
        return {"accuracy-vs-alpha": accuracy_vs_alpha(runs)} if not runs.empty else {}
