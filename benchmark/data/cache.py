"""The preprocessing cache: named arrays stored under a key of checksums and parameters.

Entries live in ``<cache_dir>/<kind>/<hash>.npz``, where the hash is taken
over the canonical JSON of the key (source checksums, protocol parameters,
seed, format version), so a changed source or parameter is a different
entry. Writes go to a temporary file in the same folder and are renamed
into place: an interrupted write leaves no entry behind. An unreadable entry
is rebuilt; a cache folder that cannot be written is skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from hippo_bench.data_root import cache_dir
from hippo_bench.results import canonical_json

KEY_ARRAY = "__key__"
_DISABLED = [False]  # set by disabled(): compute every entry afresh, read and write nothing


@contextlib.contextmanager
def disabled():
    """Compute every entry afresh within the block (the golden runs: a cache must not hide a change of code)."""
    before = _DISABLED[0]
    _DISABLED[0] = True
    try:
        yield
    finally:
        _DISABLED[0] = before


def entry_path(kind: str, key: Mapping) -> Path:
    """Where the entry for ``key`` lives (whether or not it exists)."""
    digest = hashlib.sha256(canonical_json(dict(key)).encode()).hexdigest()[:24]
    return cache_dir() / kind / f"{digest}.npz"


def _read(path: Path, key_json: str) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as npz:
            if KEY_ARRAY not in npz.files or str(npz[KEY_ARRAY]) != key_json:
                return None
            return {name: npz[name] for name in npz.files if name != KEY_ARRAY}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def write_atomic(path: Path, arrays: Mapping[str, np.ndarray], key_json: str) -> None:
    """Save ``arrays`` (uncompressed npz, fast to load) via a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **{KEY_ARRAY: np.array(key_json)}, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def cached_arrays(kind: str, key: Mapping, compute: Callable[[], Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays stored for ``key``, computing and storing them on a miss."""
    if _DISABLED[0]:
        return {name: np.asarray(a) for name, a in compute().items()}
    path = entry_path(kind, key)
    key_json = canonical_json(dict(key))
    if path.is_file():
        hit = _read(path, key_json)
        if hit is not None:
            return hit
    arrays = {name: np.asarray(a) for name, a in compute().items()}
    try:
        write_atomic(path, arrays, key_json)
    except OSError:
        pass  # a read-only cache only costs the recomputation next time
    return arrays
