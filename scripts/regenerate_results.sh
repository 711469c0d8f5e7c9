#!/usr/bin/env bash
# Regenerate every committed result from scratch with the code at hand, then the leaderboards.
# This is the record of how results/ was made: each published run is one line below.
#   OUT=results JOBS=2 scripts/regenerate_results.sh      (about 1 h on 2 cores; OML meta-trains 12 min once)
# Then: git add -f results/*.parquet leaderboards/ && hippo-bench leaderboard check --allow-missing
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
OUT=${OUT:-results}
hb() { "$BIN/hippo-bench" run --out "$OUT" --force "$@" >/dev/null; echo "done: $*"; }

# Published protocols (presets): meta-learning baselines and their targets.
hb --preset lamaml-rotated --seeds 0 1 2 &
hb --preset mer-rotated --seeds 0 1 2
wait
hb --preset lamaml-permuted --seeds 0 &
hb --preset mer-permuted --seeds 0
wait
hb --preset lamaml-many-permuted --seeds 0 &
hb --preset mer-many-permuted --seeds 0
wait
for n in 10 50 100 200 600; do hb --preset "oml-omniglot-$n" --seeds 0 1 2; done  # meta-training cached after the first

# meta-hippo: the seed's rotated-MNIST table (baseline vs both, 4 alpha_init, 3 seeds) and its dual task.
OUT="$OUT" FORCE=1 BIN="$BIN" scripts/reproduce_seed_table.sh >/dev/null
for condition in baseline both; do hb --preset seed-dual-mnist --condition "$condition" --seeds 0 1 2; done

# Avalanche baselines with their defaults; the CLS suite with meta-hippo on the same 5 seeds.
for s in naive ewc replay joint er-ace der; do hb --strategy "$s" --benchmark split-patterns --seeds 0 1 2; done
for s in naive ewc si replay joint meta-hippo; do hb --strategy "$s" --benchmark cls --seeds 0 1 2 3 4; done
for s in naive ewc; do hb --strategy "$s" --benchmark rotated-mnist --seeds 0 1 2; done
hb --strategy naive --benchmark omniglot-oml --seeds 0 1 2

"$BIN/hippo-bench" leaderboard build --results "$OUT"
