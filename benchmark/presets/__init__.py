"""Named protocol presets: YAML files in this folder, same keys as ``--config``.

A preset picks benchmark, model and hyperparameters together so that a
paper's protocol is one flag (``hippo-bench run --preset NAME``).
Precedence: defaults < preset < --config file < flags.
"""

from __future__ import annotations

import difflib
from importlib import resources

import yaml

from hippo_bench.errors import UserError


def available() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".yaml"))


def load_preset(name: str) -> dict:
    names = available()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UserError(f"unknown preset {name!r}{hint} (known: {', '.join(names) or 'none'})")
    data = yaml.safe_load(resources.files(__name__).joinpath(f"{name}.yaml").read_text()) or {}
    data.pop("description", None)
    data.pop("source", None)
    return data


def describe(name: str) -> tuple[str, str]:
    data = yaml.safe_load(resources.files(__name__).joinpath(f"{name}.yaml").read_text()) or {}
    return str(data.get("description", "")), str(data.get("source", ""))
