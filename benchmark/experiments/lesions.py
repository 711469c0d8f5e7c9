"""Claim 6, lesion dissociation: on the dual-pathway net, item memory needs the large branch, category the small one.

The dual net's heads sum the logits of a large (1000-unit, trisynaptic-like)
and a small (200-unit, monosynaptic-like) branch; meta-hippo records item
and category accuracy on the studied images intact and with each branch
removed (``lesion`` "large" / "small"). The seed's protocol (preset
``seed-dual-mnist``: 20 x 100 studied images, one glance) leaves item
accuracy near floor (about 0.02 of 2000 items, chance 0.0005), so little
can be lost; the item-memory protocol (:data:`ITEM_PROTOCOL`: the same 20
rotations with 10 images each, 5 glances, the preset otherwise) puts it
well above floor (measured when it was chosen: 0.28 of 200 items, seeds
0-4, chance 0.005; one run takes about 15 s).

Measure: per run and memory (item, category), the share of above-chance
accuracy a lesion removes, ``(intact - lesioned) / (intact - chance)``
(chance 1/10 for category, 1/items for item; NaN when the intact net is not
above chance), so item and category losses are comparable although their
accuracies and chance levels differ.

Double dissociation, paired over seeds (one-sided Wilcoxon, :mod:`.stats`):
(a) lesioning the large branch removes more of item than of category
memory; (b) lesioning the small branch removes more of category than of
item memory. Verdict: from the item-memory protocol (the one with the most
glances, a choice fixed by the design), holds when (a) and (b) pass and its
intact item accuracy is above floor (mean >= :data:`FLOOR`); the seed's
protocol is reported beside it, not judged.
"""

from __future__ import annotations

import json
import math

import pandas as pd

from hippo_bench.experiments.base import INCONCLUSIVE, Experiment, Verdict
from hippo_bench.experiments.stats import decide, directional

SEED_PRESET = "seed-dual-mnist"
ITEM_PROTOCOL = {"benchmark_params": {"n_tasks": 20, "samples_per_task": 10}, "epochs": 5}
FLOOR = 0.1  # intact item accuracy the item-memory protocol must reach on average (chance: 1/items)
N_CATEGORIES = 10
MEMORIES = ("item", "category")
LESIONS = ("large", "small")
QUICK_DUAL = {"preset": SEED_PRESET, "benchmark_params": {"n_tasks": 2, "samples_per_task": 5},
              "model_params": {"shared": [16, 16, 16], "large": 40, "small": 10}}  # needs MNIST


def protocol_of(benchmark_params: str, epochs: int) -> str:
    """"seed" for the seed's 20 x 100 images in one glance, else "items x glances" (e.g. "200 items x 5")."""
    p = json.loads(benchmark_params) if benchmark_params else {}
    n_items = int(p.get("n_tasks", 20)) * int(p.get("samples_per_task", 100))
    return "seed" if (n_items, int(epochs)) == (2000, 1) else f"{n_items} items x {int(epochs)}"


def lesion_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per run: protocol, items, intact and lesioned item and category accuracy (mean over test experiences after
    the last one), and the share of above-chance accuracy each lesion removes."""
    rows = df[df["metric"].isin([f"{m}_accuracy" for m in MEMORIES]) & (df["eval_exp"] >= 0)
              & (df["train_exp"] >= 0)]
    if rows.empty:
        return pd.DataFrame()
    rows = rows[rows["train_exp"] == rows.groupby("run_id")["train_exp"].transform("max")]
    acc = rows.groupby(["run_id", "metric", "lesion", "eval_exp"])["value"].mean()  # repeated rows count once
    acc = acc.groupby(["run_id", "metric", "lesion"]).mean()
    ident = df.drop_duplicates("run_id").set_index("run_id")
    out = []
    for run_id in sorted(acc.index.get_level_values(0).unique()):
        first = ident.loc[run_id]
        p = json.loads(first["benchmark_params"]) if first["benchmark_params"] else {}
        items = int(p.get("n_tasks", 20)) * int(p.get("samples_per_task", 100))
        rec = dict(run_id=run_id, seed=int(first["seed"]), protocol=protocol_of(first["benchmark_params"],
                                                                                 int(first["epochs"])),
                   items=items, epochs=int(first["epochs"]))
        for memory in MEMORIES:
            chance = 1.0 / (items if memory == "item" else N_CATEGORIES)
            intact = acc.get((run_id, f"{memory}_accuracy", ""), math.nan)
            rec[f"{memory}_intact"] = intact
            for lesion in LESIONS:
                lesioned = acc.get((run_id, f"{memory}_accuracy", lesion), math.nan)
                rec[f"{memory}_no_{lesion}"] = lesioned
                above = intact - chance
                rec[f"{memory}_loss_{lesion}"] = (intact - lesioned) / above if above > 0 else math.nan
        out.append(rec)
    return pd.DataFrame(out)


def dissociation(t: pd.DataFrame):
    """The two directional tests of the double dissociation on one protocol's runs."""
    return [directional("large lesion removes more item than category memory",
                        t["item_loss_large"] - t["category_loss_large"], +1),
            directional("small lesion removes more category than item memory",
                        t["category_loss_small"] - t["item_loss_small"], +1)]


class LesionDissociation(Experiment):
    name = "lesions"
    claim = ("On the dual-pathway net, item memory depends on the large (trisynaptic-like) branch and category "
             "memory on the small (monosynaptic-like) one: a double dissociation under branch lesions.")

    def configs(self, seeds, quick):
        if quick:
            return [{**QUICK_DUAL, "seeds": seeds}, {**QUICK_DUAL, "epochs": 3, "seeds": seeds}]
        return [{"preset": SEED_PRESET, "seeds": seeds}, {"preset": SEED_PRESET, **ITEM_PROTOCOL, "seeds": seeds}]

    def analyse(self, df):
        t = lesion_table(df) if not df.empty else pd.DataFrame()
        if t.empty or t["item_intact"].isna().all():
            return Verdict(self.name, self.claim, INCONCLUSIVE, "no item/category lesion rows", 0, t)
        parts, verdict, n = [], INCONCLUSIVE, 0
        judged = self.judged_protocol(t)
        for protocol, rows in t.sort_values(["epochs", "items"]).groupby("protocol", sort=False):
            tests = dissociation(rows)
            item = rows["item_intact"].mean()
            floor_ok = item >= FLOOR
            role = "judged" if protocol == judged else "reported"
            head = (f"{protocol} ({role}): intact item accuracy {item:.3f} (chance {1 / rows['items'].iloc[0]:.4f}), "
                    f"category {rows['category_intact'].mean():.3f}")
            parts.append(head + "; " + "; ".join(x.text() for x in tests))
            if protocol == judged:
                n = int(rows["seed"].nunique())
                verdict = decide(tests, n, floor_ok)
                if not floor_ok:
                    parts[-1] += f"; item accuracy below the floor {FLOOR}"
        return Verdict(self.name, self.claim, verdict, " | ".join(parts), n, t,
                       tables={"means": self.means(t)})

    @staticmethod
    def judged_protocol(t: pd.DataFrame) -> str:
        """The protocol the verdict is taken from: the one with the most glances (epochs), fixed by the design and
        not by the outcome; ties go to the fewer items."""
        first = t.sort_values(["epochs", "items"], ascending=[False, True]).iloc[0]
        return str(first["protocol"])

    @staticmethod
    def means(t: pd.DataFrame) -> pd.DataFrame:
        cols = [c for c in t.columns if c.startswith(MEMORIES)]
        return t.sort_values(["epochs", "items"]).groupby("protocol", sort=False)[cols].mean().reset_index()

    def figures(self, df):
        from hippo_bench.plotting.claims import lesion_bars

        t = lesion_table(df)
        return {"lesions": lesion_bars(t)} if not t.empty else {}
