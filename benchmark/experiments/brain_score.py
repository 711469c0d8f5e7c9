"""Brain-likeness score of meta-hippo's C-HORSE network on the pair task, with and without meta-learning.

The score and its five components (coding level, pattern separation, cued
recall, pair RSA, fast/slow learning-rate ratio; sources and formulas in
:mod:`hippo_bench.reporting.brain_score`) are computed per run from the rows
a cls-pairs run records. A score alone has no verdict, so the experiment
tests the claim it stands for: meta-learning the sparsity and learning rates
(condition ``both``) makes the network more C-HORSE-like than leaving them
at their initial values (condition ``baseline``: same network, same stream,
same seed). Paired over seeds with the claims' rule (experiments/stats.py:
one-sided Wilcoxon signed-rank, both > baseline; holds when the score is
higher with ``both`` in >= 80% of seeds and p < 0.05; below five seeds
"inconclusive"). Every component is reported beside the score, the ones
not measured with their reason; the report adds each component's formula,
source and weight, and the per-layer numbers behind them.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from hippo_bench.experiments.base import INCONCLUSIVE, Experiment, Verdict
from hippo_bench.experiments.hippocampus import META_STEPS
from hippo_bench.experiments.stats import decide, directional
from hippo_bench.reporting.brain_score import (COMPONENTS, WEIGHTS, components_of_run, definitions_table,
                                               details_table, score_of)

CONDITIONS = ("both", "baseline")
# The seed's dual-task meta step sizes (META_STEPS), as in the hippocampus and chorse-signatures claims: the
# same cls-pairs runs of condition "both" serve all three.
FULL = {"benchmark": "cls-pairs", "strategy": "meta-hippo", "model": "chorse", **META_STEPS}
# A reduced version for tests: two experiences of two pairs, a small network (DG 40, CA3 8, CA1 10).
QUICK = {**FULL, "benchmark_params": {"n_experiences": 2, "items_per_exp": 4, "trials_per_exp": 40},
         "model_params": {"neocortex": [16], "ec": 16, "scale": 0.1}}


def _condition(rows: pd.DataFrame) -> str:
    params = rows["strategy_params"].iloc[0] if "strategy_params" in rows.columns else "{}"
    params = json.loads(params) if isinstance(params, str) else dict(params or {})
    return str(params.get("condition", ""))


def score_table(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Per run: seed, condition, the score, each component's score, n measured; and the reasons of missing ones.

    Reasons are keyed by component (the first run's wording; every run of
    one strategy and model misses the same components for the same reason).
    """
    out, reasons = [], {}
    for run_id, rows in df.groupby("run_id", sort=True):
        comps = components_of_run(rows)
        rec = dict(seed=int(rows["seed"].iloc[0]), condition=_condition(rows), model=str(rows["model"].iloc[0]),
                   brain_score=score_of(comps), n_measured=sum(math.isfinite(c.score) for c in comps))
        rec.update({c.name: c.score for c in comps})
        rec["run_id"] = run_id
        out.append(rec)
        for c in comps:
            if c.reason:
                reasons.setdefault(c.name, c.reason)
    cols = ["seed", "condition", "model", "brain_score", *COMPONENTS, "n_measured", "run_id"]
    t = pd.DataFrame(out, columns=cols)
    return t.sort_values(["condition", "seed"], kind="stable").reset_index(drop=True), reasons


def layer_table(df: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """The per-layer and per-projection numbers behind the components, one row per run, component and entity."""
    frames = []
    for run_id, rows in df.groupby("run_id", sort=True):
        d = details_table(rows)
        if d.empty:
            continue
        run = scores[scores["run_id"] == run_id].iloc[0]
        frames.append(d.assign(seed=int(run["seed"]), condition=run["condition"]))
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    cols = ["condition", "seed", "component", "entity", "region", "quantity", "value", "reference", "score"]
    return out[cols].sort_values(["condition", "seed", "component"], kind="stable").reset_index(drop=True)


def _mean_text(t: pd.DataFrame, condition: str) -> str:
    rows = t[t["condition"] == condition]
    parts = []
    for col in ("brain_score", *COMPONENTS):
        v = rows[col].astype(float)
        v = v[np.isfinite(v)]
        parts.append(f"{col} {v.mean():.3f}" if len(v) else f"{col} not measured")
    return f"{condition}: " + ", ".join(parts)


class BrainScore(Experiment):
    name = "brain-score"
    claim = ("Meta-learning the sparsity and learning rates makes the C-HORSE network more brain-like on the pair "
             "task: its brain-likeness score (coding level, pattern separation, cued recall, pair RSA and "
             "fast/slow lr ratio against C-HORSE; equal weights) is higher with both learned than with neither.")

    def configs(self, seeds, quick):
        base = QUICK if quick else FULL
        return [{**base, "condition": condition, "seeds": seeds} for condition in CONDITIONS]

    def analyse(self, df):
        if df.empty:
            return Verdict(self.name, self.claim, INCONCLUSIVE, "no runs", 0, pd.DataFrame())
        t, reasons = score_table(df)
        weights = ", ".join(f"{c} {WEIGHTS[c]:g}" for c in COMPONENTS)
        missing = "; ".join(f"{c} not measured: {r}" for c, r in reasons.items())
        tail = f"weights {weights} (over the measured ones)" + (f"; {missing}" if missing else "")
        means = "; ".join(_mean_text(t, c) for c in CONDITIONS if (t["condition"] == c).any())
        tables = {"components": definitions_table(), "layers": layer_table(df, t)}
        both = t[t["condition"] == "both"].set_index("seed")["brain_score"]
        base = t[t["condition"] == "baseline"].set_index("seed")["brain_score"]
        seeds = sorted(set(both.dropna().index) & set(base.dropna().index))
        if not seeds:
            return Verdict(self.name, self.claim, INCONCLUSIVE,
                           f"no seed with a score in both conditions; {means}; {tail}", 0, t, tables=tables)
        test = directional("score higher with both learned", [both[s] - base[s] for s in seeds], +1)
        return Verdict(self.name, self.claim, decide([test], len(seeds)), f"{test.text()}; {means}; {tail}",
                       len(seeds), t, tables=tables)

    def figures(self, df):
        t, _ = score_table(df) if not df.empty else (pd.DataFrame(), {})
        if t.empty:
            return {}
        return {"components": components_figure(t)}


def components_figure(t: pd.DataFrame):
    """The score and each component per condition: bars at the mean over seeds, one dot per seed.

    A component no run measured is marked "not measured" instead of a bar.
    """
    from hippo_bench.plotting.style import OKABE_ITO, new_figure

    cols = ["brain_score", *COMPONENTS]
    conditions = [c for c in CONDITIONS if (t["condition"] == c).any()]
    conditions += sorted(set(t["condition"]) - set(conditions))
    fig = new_figure(7.0, 3.2)
    ax = fig.add_subplot()
    width = 0.8 / max(len(conditions), 1)
    rng = np.random.default_rng(0)  # fixed jitter: the same rows give the same figure
    for i, condition in enumerate(conditions):
        rows = t[t["condition"] == condition]
        for j, col in enumerate(cols):
            v = rows[col].astype(float)
            v = v[np.isfinite(v)]
            x = j + (i - (len(conditions) - 1) / 2) * width
            if not len(v):
                ax.text(x, 0.02, "not measured", rotation=90, ha="center", va="bottom", fontsize=7)
                continue
            ax.bar(x, v.mean(), width * 0.9, color=OKABE_ITO[i % len(OKABE_ITO)], alpha=0.6,
                   label=condition if j == 0 else None)
            ax.scatter(x + rng.uniform(-width / 4, width / 4, len(v)), v, s=8, color="black", zorder=3)
    ax.set_xticks(range(len(cols)), [c.replace("_", "\n") for c in cols])
    ax.set_ylim(0, 1)
    ax.set_ylabel("score (1 = C-HORSE)")
    ax.set_title("Brain-likeness score and its components (bars: mean; dots: seeds)")
    ax.legend(title="condition", loc="upper right")
    return fig

