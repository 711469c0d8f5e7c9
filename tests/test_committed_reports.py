"""The committed results and reports are those of the code on main: no stale run, and an index that agrees with its pages."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from conftest import REPO, tracked


@pytest.mark.parametrize("folder", ["results", "reports/runs"])
def test_no_committed_run_was_made_by_other_code(folder):
    """A source edit that changes a run's numbers must come with the regenerated runs (verify --rewrite)."""
    from hippo_bench.reporting.leaderboard import stale_run_ids

    files = tracked(f"{folder}/*.parquet")
    if not files:
        pytest.skip(f"nothing committed under {folder}/")
    columns = ["run_id", "strategy", "benchmark", "model", "code_fingerprint"]
    runs = pd.concat([pd.read_parquet(REPO / f, columns=columns).head(1) for f in files], ignore_index=True)
    stale = sorted(stale_run_ids(runs))
    assert not stale, (f"{len(stale)} of {len(runs)} runs in {folder}/ were made by other code, e.g. "
                       f"{stale[:3]}: regenerate them with `hippo-bench verify --results {folder} --rewrite`")


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
