"""The documentation site builds in strict mode: a broken link or a missing reference fails here."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO


def test_the_docs_site_builds_strict_with_every_page(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs is in the test extra: `make test` installs it")
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    for page in ("index.html", "install/index.html", "concepts/index.html", "commands/index.html",
                 "api/index.html", "extending/index.html", "claims/index.html", "boards/index.html",
                 "DESIGN/index.html", "changelog/index.html", "reports/index.html"):
        assert (site / page).is_file(), page
    commands = (site / "commands" / "index.html").read_text()
    assert "hippo-bench release" in commands and "--vectorize-seeds" in commands  # generated from the CLI
    api = (site / "api" / "index.html").read_text()
    assert "make_model" in api and "MetaHippo" in api  # from the docstrings
