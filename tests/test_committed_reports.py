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
