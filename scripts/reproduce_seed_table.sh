#!/usr/bin/env bash
# Reproduce the seed's rotated-MNIST table (issue 3): baseline vs both learned, 3 seeds per
# alpha_init, on the seed's protocol (preset seed-rotated-mnist). Results land in results/
# (reused when already there; FORCE=1 reruns); then: hippo-bench leaderboard build && hippo-bench leaderboard check
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
for alpha in 0.0001 0.001 0.005 0.01 0.05 0.1 0.25; do
  for condition in baseline both; do
    "$BIN/hippo-bench" run --preset seed-rotated-mnist --condition "$condition" --alpha-init "$alpha" \
      --seeds 0 1 2 --out "${OUT:-results}" ${FORCE:+--force}
  done
done
