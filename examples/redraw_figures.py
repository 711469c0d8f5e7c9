# %% [markdown]
# # The depth and dual figures, redrawn from the committed runs
#
# A jupytext notebook (percent format): run it as a script, or open it as a notebook
# (`jupytext --to ipynb examples/redraw_figures.py`). It reads the runs committed under `reports/runs/`
# (no training: the rows are analysed as they are, whichever release made them) and redraws the figures of the
# `depth` and `dual` claims with the code that draws them for `hippo-bench experiment`.

# %%
import argparse
from pathlib import Path

from hippo_bench.currency import release_line
from hippo_bench.experiments import EXPERIMENTS
from hippo_bench.experiments.base import draw_figures
from hippo_bench.plotting.style import save

ROOT = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path.cwd()
ap = argparse.ArgumentParser(description="Redraw the depth and dual figures from the committed runs")
ap.add_argument("--runs", default=str(ROOT / "reports" / "runs"))
ap.add_argument("--out", default="figures-redrawn")
ap.add_argument("--seeds", type=int, default=10)
args, _ = ap.parse_known_args()

# %% [markdown]
# Each experiment knows its runs (`configs`); with `reuse_stale=True` the committed files are read as they are.

# %%
out = Path(args.out)
for name in ("depth", "dual"):
    experiment = EXPERIMENTS[name]()
    rows = experiment.run(list(range(args.seeds)), False, Path(args.runs), reuse_stale=True)
    verdict = experiment.analyse(rows)
    print(f"{name}: {verdict.verdict} ({verdict.statistic}; n = {verdict.n}). {release_line(rows)}")
    for stem, figure in draw_figures(experiment, rows).items():
        for path in save(figure, out / name, stem):
            print("wrote", path)
