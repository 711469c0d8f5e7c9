"""The committed reports: an index that agrees with its pages."""

from __future__ import annotations

import re

import pytest

from conftest import REPO, tracked


def test_the_committed_index_agrees_with_every_claim_page():
    from hippo_bench.experiments import EXPERIMENTS

    if "reports/index.md" not in tracked("reports/index.md"):
        pytest.skip("no committed reports/index.md")
    index = (REPO / "reports" / "index.md").read_text()
    rows = dict(re.findall(r"^\| \[([\w-]+)\]\([\w-]+/index\.md\) \| ([a-z ]+) \|", index, flags=re.M))
    assert sorted(rows) == sorted(EXPERIMENTS), "reports/index.md must come from one `hippo-bench experiment all`"
    for name, verdict in rows.items():
        page = (REPO / "reports" / name / "index.md").read_text()
        assert f"**Verdict: {verdict}.**" in page, name


def test_every_committed_board_and_report_page_says_which_release_made_its_rows():
    pages = [p for p in tracked("leaderboards/*.md") + tracked("reports/*.md") + tracked("reports/*/index.md")]
    if not pages:
        pytest.skip("no committed leaderboards or reports")
    from hippo_bench.release import read_manifest

    releases = {read_manifest(REPO / folder)["release"] for folder in ("results", "reports/runs")
                if read_manifest(REPO / folder)}
    assert releases, "results/ and reports/runs/ need their release.json"
    for page in pages:
        text = (REPO / page).read_text()
        found = re.findall(r"Release: ([0-9][^ (.]*(?:\.[0-9a-z]+)*)", text)
        assert found and set(found) <= releases, f"{page} does not say its release ({found} vs {releases})"
