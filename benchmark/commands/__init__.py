"""One module per ``hippo-bench`` command; ``hippo_bench.cli`` only dispatches.

Shared here: the argument parser that turns usage errors into
:class:`~hippo_bench.errors.UserError` (one line, exit 2), the console, and
the YAML reader used by ``--config`` and grid files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from hippo_bench.errors import UserError


class Parser(argparse.ArgumentParser):
    """argparse that raises UserError instead of printing usage and exiting.

    Abbreviated flags are off: with flags generated from Config fields, a
    prefix such as ``--mode`` would silently mean ``--model``.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise UserError(f"{self.prog}: {message}")


def console() -> Console:
    return Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 160)


def load_yaml(path: str | Path, what: str) -> dict:
    """A YAML file holding a mapping; a missing or malformed file is one user error."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise UserError(f"{what} file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{what} file {p} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise UserError(f"{what} file {p} must hold a mapping of keys to values")
    return data
