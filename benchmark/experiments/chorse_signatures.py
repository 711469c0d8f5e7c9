"""Claim 7, C-HORSE signatures: the network shows the representational signatures of C-HORSE on the CLS tasks.

Runs: meta-hippo (both learned) on ``chorse`` on ``cls-pairs``,
``cls-community`` and ``cls-inference`` (the meta step sizes of
:mod:`.hippocampus`, so the cls-pairs runs are shared with that claim).
The CLS probe (:mod:`hippo_bench.analysis.cls_probe`) records, after the last
experience, intact and with each pathway lesioned ("msp": ECin -> CA1
removed; "tsp": CA3 -> CA1 removed), pooled over all items (eval_exp -1):

- ``similarity_pair`` / ``similarity_nonpair`` per layer (cls-pairs);
- ``similarity_within`` / ``similarity_between`` per layer (cls-community);
- ``production_ac_choice`` on the output: the two-alternative choice rate
  of C over foils when A is shown alone (cls-inference; chance 0.5).

Per seed, the signatures (each predicted > 0):
- pairs: CA1 pair - non-pair similarity; CA1's contrast minus DG's and
  minus CA3's (the structure, not the overall similarity level, is compared
  across layers: denser layers correlate more overall);
- community: CA1 within - between community similarity;
- inference: A -> C choice rate - 0.5;
- lesion: each of pairs, community and inference minus its value under the
  relevant lesion, :data:`RELEVANT_LESION` (the monosynaptic pathway, which
  C-HORSE credits with learning regularities across episodes; Schapiro et al.
  2017); the other lesion is reported beside it.

Verdict (:mod:`.stats`): holds when every signature is positive in >= 80% of
the seeds with one-sided Wilcoxon p < 0.05.
"""

from __future__ import annotations

import math

import pandas as pd

from hippo_bench.experiments.base import INCONCLUSIVE, Experiment, Verdict
from hippo_bench.experiments.claims import QUICK_BENCH
from hippo_bench.experiments.hippocampus import META_STEPS, QUICK_CHORSE
from hippo_bench.experiments.stats import decide, directional

RELEVANT_LESION = {"pairs": "msp", "community": "msp", "inference": "msp"}
LESIONS = ("", "msp", "tsp")
LESION_LABELS = {"intact": "intact", "msp": "MSP lesion (ECin->CA1)", "tsp": "TSP lesion (CA3->CA1)"}
CHANCE_CHOICE = 0.5
QUICK_PARAMS = {"cls-pairs": QUICK_CHORSE["benchmark_params"],
                "cls-community": {"n_experiences": 2, "trials_per_exp": 40, "meta_train_episodes": 2},
                "cls-inference": {"n_experiences": 2, "reps": 3, "meta_train_episodes": 2}}


def probe_values(df: pd.DataFrame) -> pd.DataFrame:
    """Per run, metric, layer and lesion: the probe value pooled over items after the last experience."""
    rows = df[df["metric"].str.startswith(("similarity_", "production_")) & (df["eval_exp"] == -1)
              & (df["train_exp"] >= 0)]
    if rows.empty:
        return rows
    rows = rows[rows["train_exp"] == rows.groupby("run_id")["train_exp"].transform("max")]
    return (rows.groupby(["run_id", "benchmark", "seed", "metric", "entity", "lesion"], sort=True)["value"]
            .mean().reset_index())


def signature_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per run: benchmark, seed, and each signature of that benchmark intact and under every lesion."""
    v = probe_values(df)
    if v.empty:
        return pd.DataFrame()
    out = []
    for run_id, r in v.groupby("run_id", sort=True):
        get = {(m, e.lower(), les): val for m, e, les, val in zip(r["metric"], r["entity"], r["lesion"], r["value"])}

        def at(metric: str, layer: str, lesion: str) -> float:
            return get.get((metric, layer, lesion), math.nan)

        bench = str(r["benchmark"].iloc[0])
        for lesion in LESIONS:
            rec = dict(run_id=run_id, benchmark=bench, seed=int(r["seed"].iloc[0]), lesion=lesion or "intact")
            if bench == "cls-pairs":
                contrast = {layer: at("similarity_pair", layer, lesion) - at("similarity_nonpair", layer, lesion)
                            for layer in ("dg", "ca3", "ca1")}
                rec.update(pairs=contrast["ca1"], pairs_ca1_minus_dg=contrast["ca1"] - contrast["dg"],
                           pairs_ca1_minus_ca3=contrast["ca1"] - contrast["ca3"])
            elif bench == "cls-community":
                rec["community"] = at("similarity_within", "ca1", lesion) - at("similarity_between", "ca1", lesion)
            elif bench == "cls-inference":
                rec["inference"] = at("production_ac_choice", "output", lesion) - CHANCE_CHOICE
            else:
                continue
            out.append(rec)
    return pd.DataFrame(out)


def _wide(t: pd.DataFrame, signature: str) -> pd.DataFrame:
    """seed x lesion values of one signature."""
    if signature not in t.columns:
        return pd.DataFrame()
    rows = t.dropna(subset=[signature])
    return rows.pivot_table(index="seed", columns="lesion", values=signature, aggfunc="mean")


class ChorseSignatures(Experiment):
    name = "chorse-signatures"
    claim = ("On the CLS tasks the C-HORSE network shows C-HORSE's signatures: pair structure in CA1 (pair above "
             "non-pair similarity, more than in DG and CA3), community structure in CA1, A -> C inference above "
             "chance; each lost when the monosynaptic pathway (ECin -> CA1) is lesioned.")

    def configs(self, seeds, quick):
        if quick:
            keep = {k: v for k, v in QUICK_BENCH.items() if k not in ("benchmark", "benchmark_params")}
            return [{**keep, **QUICK_CHORSE, **META_STEPS, "benchmark": b, "benchmark_params": p, "seeds": seeds}
                    for b, p in QUICK_PARAMS.items()]
        return [{"benchmark": b, "strategy": "meta-hippo", "model": "chorse", "condition": "both", **META_STEPS,
                 "seeds": seeds} for b in QUICK_PARAMS]

    def analyse(self, df):
        t = signature_table(df) if not df.empty else pd.DataFrame()
        if t.empty:
            return Verdict(self.name, self.claim, INCONCLUSIVE, "no CLS probe rows (similarity, production)", 0, t)
        tests, ns = [], []
        checks = (("pairs", "CA1 pair > non-pair similarity"), ("pairs_ca1_minus_dg", "CA1 pair contrast > DG's"),
                  ("pairs_ca1_minus_ca3", "CA1 pair contrast > CA3's"),
                  ("community", "CA1 within > between community similarity"),
                  ("inference", "A -> C choice above chance"))
        for signature, what in checks:
            w = _wide(t, signature)
            if w.empty or "intact" not in w.columns:
                continue
            tests.append(directional(what, w["intact"], +1))
            ns.append(len(w))
            lesion = RELEVANT_LESION.get(signature)
            if lesion and lesion in w.columns:
                tests.append(directional(f"{signature} reduced by the {lesion.upper()} lesion",
                                         w["intact"] - w[lesion], +1))
        if not tests:
            return Verdict(self.name, self.claim, INCONCLUSIVE, "no signature could be computed", 0, t)
        n = min(ns)
        return Verdict(self.name, self.claim, decide(tests, n), "; ".join(x.text() for x in tests), n, t,
                       tables={"means": self.means(t)})

    @staticmethod
    def means(t: pd.DataFrame) -> pd.DataFrame:
        cols = [c for c in ("pairs", "pairs_ca1_minus_dg", "pairs_ca1_minus_ca3", "community", "inference")
                if c in t.columns]
        return t.groupby(["benchmark", "lesion"], sort=False)[cols].mean().reset_index()

    def figures(self, df):
        from hippo_bench.plotting.claims import grouped_bars

        t = signature_table(df)
        if t.empty:
            return {}
        panels = {}
        labels = {"pairs": ("cls-pairs: CA1 pair - non-pair", "CA1"), "community":
                  ("cls-community: CA1 within - between", "CA1"), "inference": ("cls-inference: A->C choice - 0.5",
                                                                                "output")}
        for signature, (title, measure) in labels.items():
            w = _wide(t, signature)
            if not w.empty:
                panels[title] = {measure: {LESION_LABELS.get(c, c): w[c].to_numpy() for c in w.columns}}
        if not panels:
            return {}
        return {"signatures": grouped_bars(panels, "signature (0 = no structure / chance)",
                                           "C-HORSE signatures intact and lesioned: bars = mean over seeds, "
                                           "dots = seeds", chance={p: 0.0 for p in panels})}
