"""Where data sets live: --data-root, then $HIPPO_BENCH_DATA, then a per-user folder."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from hippo_bench.errors import UserError

ENV_DATA = "HIPPO_BENCH_DATA"
ENV_CACHE = "HIPPO_BENCH_CACHE"


def user_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("hippo-bench"))


def resolve_data_root(flag: str | os.PathLike | None) -> Path:
    """The data root to read from. An explicit ``--data-root`` must exist."""
    if flag:
        p = Path(flag).expanduser()
        if not p.is_dir():
            raise UserError(f"--data-root: folder does not exist: {p}")
        return p
    env = os.environ.get(ENV_DATA)
    if env:
        return Path(env).expanduser()
    return user_data_dir()


def candidate_roots(flag: str | os.PathLike | None = None) -> list[Path]:
    """Every folder a loader looks in, in order (for 'not found' messages)."""
    if flag:
        return [Path(flag).expanduser()]
    out = []
    if os.environ.get(ENV_DATA):
        out.append(Path(os.environ[ENV_DATA]).expanduser())
    out.append(user_data_dir())
    return out


def cache_dir() -> Path:
    """Preprocessing cache, separate from the (possibly read-only) data root."""
    env = os.environ.get(ENV_CACHE)
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("hippo-bench"))
