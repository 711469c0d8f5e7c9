"""Leaderboards from hand-made tidy results, and the committed tables regenerate byte for byte."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from conftest import REPO
from hippo_bench.params import as_dict
from hippo_bench.reporting.leaderboard import build_leaderboards
from hippo_bench.results import atomic_write_parquet, make_table, result_path, run_identity
from hippo_bench.strategies import strategies

BENCH = {"n_classes": 4, "classes_per_exp": 2}


def _params(strategy: str, **changes) -> dict:
    return {**as_dict(strategies.get(strategy).Config()), **changes}


def _write_run(folder, strategy, seed, R=None, b=None, params=None, status="ok", note="",
               benchmark="toy", created="2024-01-01T00:00:00+00:00"):
    identity = run_identity(benchmark=benchmark, benchmark_params=BENCH, benchmark_seed=0, strategy=strategy,
                            strategy_params=params if params is not None else _params(strategy), model="mlp",
                            model_params={"hidden": [8]}, seed=seed, epochs=1, train_mb_size=10)
    rows = []
    if R is not None:
        R = np.asarray(R)
        rows += [dict(train_exp=i, eval_exp=j, metric="accuracy", value=R[i, j], entity="", group="", lesion="")
                 for i in range(len(R)) for j in range(len(R))]
    if b is not None:
        rows += [dict(train_exp=-1, eval_exp=j, metric="accuracy", value=v, entity="", group="", lesion="")
                 for j, v in enumerate(b)]
    table = make_table(identity, rows, status=status, note=note,
                       prov={"created_at": created, "host": f"host-{seed}"})
    atomic_write_parquet(table, result_path(folder, table["run_id"].iloc[0]))


@pytest.fixture
def results(tmp_path):
    folder = tmp_path / "results"
    # naive: ACC 0.5 and 0.7 -> 0.600 ± 0.141; LA 0.8 and 0.9 -> 0.850; FWT 0.1 - 0.2 = -0.1 twice
    _write_run(folder, "naive", 0, [[0.9, 0.1], [0.3, 0.7]], b=[0.1, 0.2])
    _write_run(folder, "naive", 1, [[0.9, 0.1], [0.5, 0.9]], b=[0.1, 0.2], created="2025-06-01T00:00:00+00:00")
    # ewc with a stronger penalty: ACC 0.75, BWT -0.2, forgetting 0.2, LA 0.85, no FWT (no baseline row)
    _write_run(folder, "ewc", 0, [[0.8, 0.0], [0.6, 0.9]], params=_params("ewc", ewc_lambda=100.0))
    # ewc defaults: ACC 0.55, BWT -0.6, forgetting 0.6, LA 0.85
    _write_run(folder, "ewc", 0, [[0.8, 0.0], [0.2, 0.9]])
    _write_run(folder, "gem", 0, status="skipped", note="gem needs task labels")
    _write_run(folder, "gem", 1, status="skipped", note="gem needs task labels")
    # a strategy this installation does not know: its variant is what varies between its runs
    # (k=1 ties ewc's best BWT and forgetting to three decimals: both are bold)
    _write_run(folder, "mystery", 0, [[0.3, 0.1], [0.1, 0.1]], params={"k": 1, "z": 0})
    _write_run(folder, "mystery", 0, [[0.3, 0.1], [0.0, 0.3]], params={"k": 2, "z": 0})
    _write_run(folder, "naive", 0, [[1.0]], benchmark="other")
    return folder


def _table_rows(md: str) -> list[list[str]]:
    lines = [line for line in md.splitlines() if line.startswith("|")][2:]  # after header and rule
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines]


def test_rows_values_order_and_bold(results, tmp_path):
    written = build_leaderboards(results, tmp_path / "lb")
    assert [p.name for p in written] == ["other.md", "other.html", "toy.md", "toy.html"]
    md = (tmp_path / "lb" / "toy.md").read_text()
    header = [c.strip() for c in md.splitlines()[[i for i, l in enumerate(md.splitlines()) if l.startswith("|")][0]]
              .strip("|").split("|")]
    assert header == ["#", "strategy", "model", "variant", "n", "ACC ↑", "BWT ↑", "Forgetting ↓", "LA ↑", "FWT ↑"]
    assert _table_rows(md) == [
        ["1", "ewc", "mlp", "ewc_lambda=100", "1", "**0.750**", "**-0.200**", "**0.200**", "**0.850**", "—"],
        ["2", "naive", "mlp", "", "2", "0.600 ± 0.141", "-0.500 ± 0.141", "0.500 ± 0.141",
         "**0.850 ± 0.071**", "**-0.100 ± 0.000**"],
        ["3", "ewc", "mlp", "", "1", "0.550", "-0.600", "0.600", "**0.850**", "—"],
        ["4", "mystery", "mlp", "k=2", "1", "0.150", "-0.300", "0.300", "0.300", "—"],
        ["5", "mystery", "mlp", "k=1", "1", "0.100", "**-0.200**", "**0.200**", "0.200", "—"],
    ]
    assert "- gem (mlp), seeds 0, 1: skipped: gem needs task labels" in md
    assert "`bench.classes_per_exp=2`" in md and "`model.hidden=[8]`" in md and "`epochs=1`" in md
    html = (tmp_path / "lb" / "toy.html").read_text()
    assert "<td class=\"num\"><strong>0.750</strong></td>" in html
    assert "<li>gem (mlp), seeds 0, 1: skipped: gem needs task labels</li>" in html
    assert html.count("<tr>") == 6  # header and five rows


def test_varying_settings_move_into_the_variant(tmp_path):
    folder = tmp_path / "results"
    _write_run(folder, "naive", 0, [[0.5]])
    identity = run_identity(benchmark="toy", benchmark_params=BENCH, benchmark_seed=0, strategy="naive",
                            strategy_params=_params("naive"), model="mlp", model_params={"hidden": [8]},
                            seed=0, epochs=3, train_mb_size=10)
    rows = [dict(train_exp=0, eval_exp=0, metric="accuracy", value=0.6, entity="", group="", lesion="")]
    table = make_table(identity, rows, prov={})
    atomic_write_parquet(table, result_path(folder, table["run_id"].iloc[0]))
    build_leaderboards(folder, tmp_path / "lb")
    md = (tmp_path / "lb" / "toy.md").read_text()
    assert [r[3] for r in _table_rows(md)] == ["epochs=3", "epochs=1"]
    assert "`epochs=" not in md  # no longer a shared setting


def test_output_is_deterministic_and_ignores_provenance_and_file_layout(results, tmp_path):
    first = {p.name: p.read_bytes() for p in build_leaderboards(results, tmp_path / "a")}
    again = {p.name: p.read_bytes() for p in build_leaderboards(results, tmp_path / "b")}
    assert first == again
    shuffled = tmp_path / "elsewhere"
    for i, path in enumerate(sorted(results.glob("*.parquet"), reverse=True)):
        (shuffled / f"batch{i % 2}").mkdir(parents=True, exist_ok=True)
        shutil.copy(path, shuffled / f"batch{i % 2}" / f"{i:02d}-{path.name}")
    moved = {p.name: p.read_bytes() for p in build_leaderboards(shuffled, tmp_path / "c")}
    assert moved == first
    assert b"2024" not in first["toy.md"] and b"host-" not in first["toy.html"]


def test_cli_builds_and_reports(results, tmp_path, run_cli):
    code, out, err = run_cli("leaderboard", "build", "--results", results, "--out", tmp_path / "lb")
    assert code == 0, err
    assert f"wrote {tmp_path / 'lb' / 'toy.md'}" in out
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, _ = run_cli("leaderboard", "build", "--results", empty, "--out", tmp_path / "lb2")
    assert code == 0 and "nothing written" in out and not (tmp_path / "lb2").exists()


def _tracked(pattern: str) -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "--", pattern], cwd=REPO, capture_output=True, text=True,
                             timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout: the committed results cannot be told from local runs")
    return out.stdout.split()


def test_committed_leaderboards_regenerate_byte_identically(tmp_path):
    published = _tracked("results/*.parquet")
    boards = _tracked("leaderboards/*")
    assert published, "no published results are committed under results/"
    copy = tmp_path / "results"
    copy.mkdir()
    for rel in published:
        shutil.copy(REPO / rel, copy)
    written = build_leaderboards(copy, tmp_path / "leaderboards")
    assert sorted(f"leaderboards/{p.name}" for p in written) == sorted(
        b for b in boards if b.endswith((".md", ".html")))
    for path in written:
        assert path.read_bytes() == (REPO / "leaderboards" / path.name).read_bytes(), (
            f"leaderboards/{path.name} is stale: run `hippo-bench leaderboard build` and commit it")
