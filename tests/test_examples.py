"""The examples run offline, as a user would run them (tiny settings), and show what they promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

EXAMPLES = REPO / "examples"
HAS_MNIST = (Path(os.environ.get("HIPPO_BENCH_DATA", "/nonexistent")) / "MNIST" / "raw").is_dir()
NEEDS_MNIST = pytest.mark.skipif(not HAS_MNIST, reason="HIPPO_BENCH_DATA holds no MNIST/raw (the offline copy)")


def _run(script: str, *args: str, cwd: Path) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900, env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@NEEDS_MNIST
def test_the_avalanche_example_trains_meta_hippo_on_the_offline_mnist(tmp_path):
    out = _run("avalanche_metahippo.py", "--per-experience", "40", cwd=tmp_path)
    assert "stream accuracy after the last experience" in out
    assert "input->h1" in out and "h2->out" in out  # the learned pattern, per projection


def test_a_strategy_in_one_file_lands_on_a_board(tmp_path):
    out = _run("strategy_on_a_board.py", "--out", str(tmp_path / "board"), "--seeds", "0", "1", cwd=tmp_path)
    rows = [line for line in out.splitlines() if line.startswith("|") and "mlp" in line]
    assert {r.split("|")[2].strip() for r in rows} == {"l2-naive", "naive"}
    assert len(list((tmp_path / "board" / "results").glob("*.parquet"))) == 4


@NEEDS_MNIST
def test_the_notebook_redraws_the_committed_depth_and_dual_figures(tmp_path):
    out = _run("redraw_figures.py", "--out", str(tmp_path / "figs"), cwd=tmp_path)
    assert "depth: " in out and "dual: " in out and "Release: " in out
    for name, stem in (("depth", "trajectories"), ("dual", "pathways")):
        drawn = tmp_path / "figs" / name / f"{stem}.png"
        assert drawn.read_bytes() == (REPO / "reports" / name / f"{stem}.png").read_bytes()  # the committed figure
