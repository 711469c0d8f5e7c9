"""``hippo-bench report``: the static site from hand-made results, rebuilt byte for byte; bad input.

``hand_site`` builds the site once per test session (the browser test reuses it).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from test_plot_figures import _accuracy_rows, _write, write_results

_SITES: dict[str, tuple[Path, Path, dict[str, str]]] = {}

REPORT_INDEX = """# Claims of the poster

| claim | verdict | statistic | n |
|---|---|---|---|
| [depth](depth/index.md) | supported | t = 3.1, p = 0.01 | 5 |
"""
REPORT_PAGE = """# depth

**Claim.** Higher layers are sparser.

**Verdict: supported.** t = 3.1 (n = 5). Per-seed values: [data.csv](data.csv); a [dead link](../nowhere.md).
"""


def write_reports(folder: Path) -> None:
    (folder / "depth").mkdir(parents=True)
    (folder / "index.md").write_text(REPORT_INDEX)
    (folder / "depth" / "index.md").write_text(REPORT_PAGE)
    (folder / "depth" / "data.csv").write_text("seed,value\n0,1.5\n")


def hand_site(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    """(results folder, site folder, config ids) of a site built from ``write_results`` (once per session)."""
    if "site" not in _SITES:
        from hippo_bench.cli import main

        base = tmp_path_factory.mktemp("report")
        ids = write_results(base / "results")
        write_reports(base / "reports")
        code = main(["report", "--results", str(base / "results"), "--out", str(base / "site"),
                     "--reports", str(base / "reports")])
        assert code == 0
        _SITES["site"] = (base / "results", base / "site", ids)
    return _SITES["site"]


@pytest.fixture
def site(tmp_path_factory):
    return hand_site(tmp_path_factory)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_pages_figures_and_markdown_boards(site):
    from hippo_bench.reporting.leaderboard import boards, load_failures, render_markdown
    from hippo_bench.results import load_results

    results, root, ids = site
    files = _files(root)
    for cid in ids.values():
        assert f"configs/{cid}.html" in files
    assert {f"figures/{ids['hippo']}/{s}.{x}" for s in ("network", "accuracy-matrix", "forgetting", "pattern")
            for x in ("png", "svg")} <= set(files)
    assert f"figures/{ids['cls']}/correlations.png" in files
    assert not any(name.startswith(f"figures/{ids['naive']}/network") for name in files)
    # the markdown beside each board page is the leaderboard module's own rendering
    expected = {b.benchmark: render_markdown(b) for b in boards(load_results(results), load_failures(results))}
    assert {k: files[f"benchmarks/{k}.md"].decode() for k in expected} == expected
    index = files["index.html"].decode()
    assert 'href="benchmarks/toy.html"' in index and 'href="verdicts/index.html"' in index
    assert "failed: RuntimeError: out of memory" in files["benchmarks/toy.html"].decode()


def test_config_page_has_learned_pattern_and_per_seed_summary(site):
    _, root, ids = site
    page = (root / "configs" / f"{ids['hippo']}.html").read_text()
    rows = re.findall(r"<tr>(.*?)</tr>", page)
    cells = [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)] for r in rows]
    pattern = {c[1]: c for c in cells if c and c[0] in ("layer", "projection")}
    # final step: h1 10 and 12 % active -> 11.0; h2's m 1.0; h2->out learned lr 0.4
    assert pattern["h1"][4] == "11.0" and pattern["h2"][5] == "1.000" and pattern["h2->out"][6] == "0.4"
    seeds = [c for c in cells if c and c[0] in ("0", "1") and len(c) == 7]
    assert [c[2] for c in seeds] == ["0.667", "0.467"]  # ACC of seed 0: (0.5+0.6+0.9)/3, seed 1: (0.3+0.4+0.7)/3
    assert 'width="' in page and "../figures/" in page


def test_verdicts_rendered_with_links_rewritten(site):
    _, root, _ = site
    index = (root / "verdicts" / "index.html").read_text()
    assert '<a href="depth/index.html">depth</a>' in index and "<table>" in index
    page = (root / "verdicts" / "depth" / "index.html").read_text()
    assert '<a href="data.csv">data.csv</a>' in page and (root / "verdicts" / "depth" / "data.csv").is_file()
    assert "dead link" in page and "nowhere" not in page  # a link to nothing keeps its text, loses its target


def test_rebuild_is_byte_identical(site, tmp_path, run_cli):
    results, root, _ = site
    other = tmp_path / "again"
    code, _, err = run_cli("report", "--results", results, "--out", other, "--reports",
                           root.parent / "reports")
    assert code == 0, err
    assert _files(other) == _files(root)


def test_rebuild_replaces_the_old_site(tmp_path, run_cli):
    results, out = tmp_path / "results", tmp_path / "site"
    _write(results, "toy", "naive", "mlp", {"hidden": [8]}, 0, _accuracy_rows([[1.0]]))
    write_reports(tmp_path / "reports")
    assert run_cli("report", "--results", results, "--out", out, "--reports", tmp_path / "reports")[0] == 0
    assert (out / "verdicts" / "index.html").is_file()
    (out / "configs" / "stale.html").write_text("old")
    assert run_cli("report", "--results", results, "--out", out, "--reports", tmp_path / "none")[0] == 0
    assert not (out / "configs" / "stale.html").exists() and not (out / "verdicts").exists()
    assert "None yet" in (out / "index.html").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports", "results", "site"]  # no work folders left


def test_results_of_an_older_release_are_reported_and_labelled(tmp_path, run_cli):
    results = tmp_path / "results"
    _write(results, "toy", "naive", "mlp", {"hidden": [8]}, 0, _accuracy_rows([[1.0]]), version="0.0.1")
    code, _, err = run_cli("report", "--results", results, "--out", tmp_path / "site")
    assert code == 0, err
    index = (tmp_path / "site" / "index.html").read_text()
    assert "Release: 0.0.1 (rows of 0.0.1 were made by an older release than this code" in index
    (page,) = (tmp_path / "site" / "configs").glob("*.html")
    assert "0.0.1 (older than this code)" in page.read_text()


@pytest.mark.parametrize("case", ["no results", "foreign out"])
def test_report_bad_input_is_one_line_exit_2(case, tmp_path, run_cli):
    results = tmp_path / "results"
    out = tmp_path / "site"
    if case == "no results":
        results.mkdir()
        expect = "no results under"
    else:
        _write(results, "toy", "naive", "mlp", {"hidden": [8]}, 0, _accuracy_rows([[1.0]]))
        out.mkdir()
        (out / "notes.txt").write_text("mine")
        expect = "holds files that are not a hippo-bench report"
    code, _, err = run_cli("report", "--results", results, "--out", out)
    assert code == 2 and expect in err and len(err.strip().splitlines()) == 1, err
    assert case == "foreign out" and (out / "notes.txt").read_text() == "mine" or not out.exists()
