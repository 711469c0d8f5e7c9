"""Open question "size": does the depth hierarchy survive other widths and depths?

The seed's 2-layer rotated-MNIST protocol (preset ``seed-rotated-mnist``,
condition ``both``) with every hidden layer ``width`` units wide and
``depth`` hidden layers, for widths 50 ... 1000 and depths 2 ... 6 (the
grid of ``grids/size.yaml``). Each network gets the depth claim's statistic
(:mod:`.claims`): per seed, Spearman rho of depth against learned lr and
against % active; per network, the seeds with the predicted sign (lr rises,
% active falls). The hierarchy survives in a network when both counts reach
the claim's share of seeds; the answer "survives at every size" holds when
it does in every network, and the report shows the networks where it does
not. Below five seeds per network the verdict is inconclusive.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from hippo_bench.experiments.base import FAILS, HOLDS, INCONCLUSIVE, Experiment, Verdict
from hippo_bench.experiments.claims import QUICK_BENCH, depth_table, spearman_per_run
from hippo_bench.experiments.stats import MIN_SEEDS, SHARE

WIDTHS = (50, 100, 200, 500, 1000)
DEPTHS = (2, 3, 4, 5, 6)
QUICK_WIDTHS, QUICK_DEPTHS = (8, 16), (2, 3)


def network_of(model_params: str) -> tuple[int, int]:
    """(width, depth) of a run's hidden layers, from its recorded model_params (all layers one width)."""
    hidden = json.loads(model_params)["hidden"]
    return int(max(hidden)), len(hidden)


class Size(Experiment):
    name = "size"
    claim = ("Open question: the depth hierarchy (learned lr rises, % active falls with depth) survives every "
             "hidden width from 50 to 1000 units and every depth from 2 to 6 layers.")

    def configs(self, seeds, quick):
        widths, depths = (QUICK_WIDTHS, QUICK_DEPTHS) if quick else (WIDTHS, DEPTHS)
        base = {**QUICK_BENCH, "model": "mlp2"} if quick else {"preset": "seed-rotated-mnist", "condition": "both"}
        return [{**base, "model_params": {"hidden": [w] * d}, "seeds": seeds} for d in depths for w in widths]

    def analyse(self, df):
        rho = spearman_per_run(depth_table(df))
        if rho.empty:
            return Verdict(self.name, self.claim, INCONCLUSIVE, "no meta-hippo layer rows", 0, rho)
        nets = df.drop_duplicates("run_id").set_index("run_id")["model_params"].map(network_of)
        rho["width"] = rho["run_id"].map(lambda r: nets[r][0])
        rho["depth"] = rho["run_id"].map(lambda r: nets[r][1])
        cells = []
        for (width, depth), rows in rho.groupby(["width", "depth"], sort=True):
            n = len(rows)
            k_lr, k_act = int((rows["rho_lr"] > 0).sum()), int((rows["rho_active"] < 0).sum())
            cells.append(dict(width=width, depth=depth, n=n, lr_rises=k_lr, active_falls=k_act,
                              median_rho_lr=float(rows["rho_lr"].median()),
                              median_rho_active=float(rows["rho_active"].median()),
                              survives=bool(k_lr >= SHARE * n and k_act >= SHARE * n)))
        table = pd.DataFrame(cells)
        n_min = int(table["n"].min())
        kept = int(table["survives"].sum())
        lost = table[~table["survives"]]
        text = (f"hierarchy in >= {SHARE:.0%} of seeds in {kept} of {len(table)} networks "
                f"(lr rises in {int(table['lr_rises'].sum())}/{int(table['n'].sum())} runs, "
                f"% active falls in {int(table['active_falls'].sum())}/{int(table['n'].sum())})")
        if not lost.empty:
            text += "; not in " + ", ".join(f"{w}x{d}" for w, d in zip(lost["width"], lost["depth"]))
        verdict = INCONCLUSIVE if n_min < MIN_SEEDS else (HOLDS if lost.empty else FAILS)
        return Verdict(self.name, self.claim, verdict, text, n_min, table, tables={"per-seed": rho})

    def figures(self, df):
        verdict = self.analyse(df)
        if verdict.table.empty or "width" not in verdict.table:
            return {}
        return {"hierarchy-by-size": size_grid(verdict.table)}


def size_grid(table: pd.DataFrame):
    """Two width x depth panels: share of seeds where lr rises / % active falls, each cell annotated k/n."""
    import matplotlib.pyplot as plt

    widths, depths = sorted(table["width"].unique()), sorted(table["depth"].unique())
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    for ax, (column, title) in zip(axes, (("lr_rises", "learned lr rises with depth"),
                                          ("active_falls", "% active falls with depth"))):
        share = np.full((len(depths), len(widths)), np.nan)
        for r in table.itertuples(index=False):
            i, j = depths.index(r.depth), widths.index(r.width)
            share[i, j] = getattr(r, column) / r.n
            ax.text(j, i, f"{getattr(r, column)}/{r.n}", ha="center", va="center", fontsize=8,
                    color="white" if share[i, j] < 0.5 else "black")
        image = ax.imshow(share, vmin=0, vmax=1, cmap="viridis", origin="lower", aspect="auto")
        ax.set_xticks(range(len(widths)), [str(w) for w in widths])
        ax.set_yticks(range(len(depths)), [str(d) for d in depths])
        ax.set_xlabel("hidden width (units per layer)")
        ax.set_ylabel("hidden layers")
        ax.set_title(title)
    fig.colorbar(image, ax=axes, label="share of seeds", shrink=0.9)
    return fig
