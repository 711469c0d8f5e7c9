"""Which data roots a reader searches, and the message when a data set is in none of them."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from hippo_bench.data_root import ENV_DATA, candidate_roots
from hippo_bench.errors import DataError


@dataclasses.dataclass
class Finding:
    """What ``hippo-bench data check`` found at one place: ok, missing, corrupt or unverified."""

    path: Path
    status: str
    detail: str = ""

    @property
    def usable(self) -> bool:
        return self.status in ("ok", "unverified")


def search_roots(data_root: str | os.PathLike | None) -> list[Path]:
    """The given root alone, or every default root in resolution order when none is given."""
    return [Path(data_root).expanduser()] if data_root else candidate_roots()


def missing_data_error(name: str, looked: list[str], fetch_command: str, layout: str) -> DataError:
    """One message naming every place looked at and the command that fetches the data."""
    return DataError(f"{name} not found. Looked in: {'; '.join(looked)}. Fetch it with `{fetch_command}` "
                     f"(needs internet), or point --data-root or {ENV_DATA} at a folder holding {layout}")
