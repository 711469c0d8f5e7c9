"""A package a lab can cite and install: its licence, citation file and metadata agree with each other."""

from __future__ import annotations

import tomllib

import yaml

from conftest import REPO


def test_citation_and_pyproject_name_one_version_and_one_licence():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert citation["version"] == project["version"]
    assert citation["license"] == project["license"]["text"] == "MIT"
    assert "MIT License" in (REPO / "LICENSE").read_text()
    assert project["authors"] and project["urls"] and project["classifiers"]
    dois = {ref.get("doi") for ref in citation["references"]}
    assert {"10.1101/2025.07.10.664201", "10.1098/rstb.2016.0049"} <= dois  # the meta-CLS preprint, C-HORSE
    assert any("meta-CLS" in ref.get("url", "") for ref in citation["references"])  # the poster's code
