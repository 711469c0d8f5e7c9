"""Fetching MNIST and Omniglot through torchvision: only when asked, only when online.

MNIST lands in ``<root>/MNIST/raw`` and Omniglot's official zips are
extracted into ``<root>/omniglot-py``: the layouts the readers accept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from hippo_bench.data.locate import Finding
from hippo_bench.data.mnist import check_mnist
from hippo_bench.data.omniglot import TREE_FOLDER, check_omniglot
from hippo_bench.errors import DataError


def _fetch_mnist(root: Path) -> None:
    from torchvision.datasets import MNIST

    for train in (True, False):
        MNIST(str(root), train=train, download=True)


def _fetch_omniglot(root: Path) -> None:
    from torchvision.datasets import Omniglot

    for background in (True, False):
        Omniglot(str(root), background=background, download=True)


FETCHERS: dict[str, tuple[Callable[[Path], None], Callable[[Path], list[Finding]]]] = {
    "mnist": (_fetch_mnist, check_mnist),
    "omniglot": (_fetch_omniglot, check_omniglot),
}


def download(name: str, root: Path) -> list[Finding]:
    """Fetch ``name`` into ``root`` unless it is already there and intact; returns what is there after."""
    fetch, check = FETCHERS[name]
    if any(f.status == "ok" for f in check(root)):
        return check(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        fetch(root)
    except (OSError, RuntimeError) as exc:  # URLError is an OSError; torchvision raises RuntimeError
        where = root / ("MNIST/raw" if name == "mnist" else TREE_FOLDER)
        raise DataError(f"could not download {name} into {where}: {type(exc).__name__}: {exc}. "
                        "Without internet, copy the files there (layouts in `hippo-bench data check`)") from None
    findings = check(root)
    if not any(f.usable for f in findings):
        problems = "; ".join(f"{f.path}: {f.detail}" for f in findings)
        raise DataError(f"{name} downloaded into {root} but is not usable: {problems}")
    return findings
