"""Leaderboards from hand-made tidy results, and the committed tables regenerate byte for byte."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from conftest import REPO, tracked
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
    # Four rows have seed 0 only, naive has 0 and 1: the board compares on {0}; naive's seed 1 is listed
    # below. One seed per row allows no paired test, so nothing is bold and every row ties (≈).
    assert _table_rows(md) == [
        ["1", "ewc", "mlp", "ewc_lambda=100", "1", "≈ 0.750", "≈ -0.200", "≈ 0.200", "≈ 0.850", "—"],
        ["2", "ewc", "mlp", "", "1", "≈ 0.550", "≈ -0.600", "≈ 0.600", "≈ 0.850", "—"],
        ["3", "naive", "mlp", "", "1", "≈ 0.500", "≈ -0.600", "≈ 0.600", "≈ 0.800", "-0.100"],
        ["4", "mystery", "mlp", "k=2", "1", "≈ 0.150", "≈ -0.300", "≈ 0.300", "≈ 0.300", "—"],
        ["5", "mystery", "mlp", "k=1", "1", "≈ 0.100", "≈ -0.200", "≈ 0.200", "≈ 0.200", "—"],
    ]
    assert "- naive (mlp) also has seeds 1: ACC over all its seeds 0.600 ± 0.141" in md
    assert "Compared on training seeds 0 " in md
    assert "- gem (mlp), seeds 0, 1: skipped: gem needs task labels" in md
    assert "`bench.classes_per_exp=2`" in md and "`model.hidden=[8]`" in md and "`epochs=1`" in md
    html = (tmp_path / "lb" / "toy.html").read_text()
    assert "<td class=\"num\">≈ 0.750</td>" in html and "<strong>" not in html
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


def test_committed_leaderboards_regenerate_byte_identically(tmp_path):
    published = tracked("results/*.parquet")
    boards = tracked("leaderboards/*")
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


def _acc_run(folder, strategy, seed, acc, params=None, benchmark="toy", prov=None):
    identity = run_identity(benchmark=benchmark, benchmark_params=BENCH, benchmark_seed=0, strategy=strategy,
                            strategy_params=params if params is not None else _params(strategy), model="mlp",
                            model_params={"hidden": [8]}, seed=seed, epochs=1, train_mb_size=10)
    rows = [dict(train_exp=0, eval_exp=0, metric="accuracy", value=acc, entity="", group="", lesion="")]
    table = make_table(identity, rows, prov=prov or {})
    atomic_write_parquet(table, result_path(folder, table["run_id"].iloc[0]))


def test_paired_t_test_matches_the_hand_computed_p_value():
    from hippo_bench.reporting.leaderboard import Cell, paired_p

    a = Cell((0.80, 0.82, 0.81), 3, (0, 1, 2))
    b = Cell((0.70, 0.70, 0.71), 3, (0, 1, 2))
    # d = (0.10, 0.12, 0.10): t = 16 with 2 degrees of freedom; for df = 2 the t cdf is 1/2 + t / (2 sqrt(2 + t^2))
    t = 16.0
    assert paired_p(a, b) == pytest.approx(2 * (0.5 - t / (2 * np.sqrt(2 + t * t))), rel=1e-6)
    assert np.isnan(paired_p(a, Cell((0.5,), 1, (0,))))  # one common seed: no test


def test_bold_needs_a_significant_win_on_the_shared_seeds(tmp_path):
    folder = tmp_path / "results"
    for seed, (a, b, c) in enumerate([(0.80, 0.70, 0.60), (0.82, 0.70, 0.61), (0.81, 0.71, 0.59)]):
        _acc_run(folder, "naive", seed, a, params=_params("naive", lr=0.1))
        _acc_run(folder, "naive", seed, b, params=_params("naive", lr=0.2))
        _acc_run(folder, "naive", seed, c, params=_params("naive", lr=0.3))
    _acc_run(folder, "naive", 3, 0.99, params=_params("naive", lr=0.3))  # an extra seed: not in the table
    _acc_run(folder, "naive", 0, 0.95, params=_params("naive", lr=0.4))  # lacks seeds 1 and 2: marked, not tested
    build_leaderboards(folder, tmp_path / "lb")
    md = (tmp_path / "lb" / "toy.md").read_text()
    rows = {r[3]: r for r in _table_rows(md)}
    assert rows["lr=0.1"][4:6] == ["3", "**0.810 ± 0.010**"]  # beats the runner-up lr=0.2 at p = 0.004
    assert rows["lr=0.3"][4:6] == ["3", "0.600 ± 0.010"]  # on seeds 0-2 only
    assert rows["lr=0.4"][4:6] == ["1*", "0.950"]  # the best mean, but not on the shared seeds
    assert "- naive (mlp, lr=0.3) also has seeds 3: ACC over all its seeds 0.698 ± 0.195" in md


def test_a_win_within_noise_is_a_tie(tmp_path):
    folder = tmp_path / "results"
    for seed, (a, b) in enumerate([(0.80, 0.70), (0.60, 0.72), (0.75, 0.65)]):
        _acc_run(folder, "naive", seed, a, params=_params("naive", lr=0.1))
        _acc_run(folder, "naive", seed, b, params=_params("naive", lr=0.2))
    build_leaderboards(folder, tmp_path / "lb")
    rows = {r[3]: r for r in _table_rows((tmp_path / "lb" / "toy.md").read_text())}
    assert rows["lr=0.1"][5].startswith("≈ 0.717") and rows["lr=0.2"][5].startswith("≈ 0.690")


def test_rows_of_an_older_release_are_labelled_with_it_and_other_code_keys_are_not(tmp_path):
    """Which release made a row is read from the rows alone; a reuse key of other code says nothing about it."""
    folder = tmp_path / "results"
    _acc_run(folder, "naive", 0, 0.5, benchmark="split-patterns", prov={"code_fingerprint": "0123456789abcdef"})
    _acc_run(folder, "naive", 0, 0.6, params=_params("naive", lr=0.2), benchmark="split-patterns",
             prov={"hippo_bench_version": "0.0.1"})
    build_leaderboards(folder, tmp_path / "lb")
    md = (tmp_path / "lb" / "split-patterns.md").read_text()
    by_variant = {re.sub(r",? ?version=[^,]*", "", r[3]): r[1] for r in _table_rows(md)}
    assert by_variant == {"": "naive", "lr=0.2": "naive (0.0.1)"}
    assert "(0.0.1): made by release 0.0.1, older than this code" in md
    assert "Release: 0.0.1, " in md and "rows of 0.0.1 were made by an older release than this code" in md


def test_every_benchmark_states_what_its_acc_means():
    from hippo_bench.tasks import benchmarks

    missing = [name for name in benchmarks.names() if not benchmarks.get(name).acc_meaning]
    assert not missing, f"say what ACC measures (acc_meaning on the benchmark class) for {missing}"


def test_a_board_takes_its_wording_from_the_rows_and_old_rows_from_the_installed_benchmark(tmp_path):
    """The rows carry how the code that made them described the protocol; rows of 0.1.0 carry nothing."""
    import pandas as pd

    folder = tmp_path / "results"
    _acc_run(folder, "naive", 0, 0.5, benchmark="dual-mnist",
             prov={"acc_meaning": "recognition of studied items", "benchmark_description": "a stream as it was"})
    _acc_run(folder, "naive", 1, 0.6, benchmark="dual-mnist")
    md = next(p for p in build_leaderboards(folder, tmp_path / "boards") if p.suffix == ".md").read_text()
    assert "ACC here: recognition of studied items." in md and "Protocol: dual-mnist: a stream as it was." in md
    for path in folder.glob("*.parquet"):  # as 0.1.0 wrote them: no wording columns
        table = pd.read_parquet(path)
        table.drop(columns=["acc_meaning", "benchmark_description", "strategy_defaults"]).to_parquet(path, index=False)
    md = next(p for p in build_leaderboards(folder, tmp_path / "boards") if p.suffix == ".md").read_text()
    assert "ACC here: digit (category head) accuracy on the studied images" in md
