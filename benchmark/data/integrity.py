"""File checksums, remembered per (path, size, modification time).

Hashing the 47 MB MNIST training images on every build would cost more than
the build itself, so each digest is stored in ``<cache_dir>/file-digests.json``
and reused while the file's size and mtime are unchanged. A cache folder
that cannot be written only means hashing again next time.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from hippo_bench.data_root import cache_dir
from hippo_bench.errors import DataError
from hippo_bench.results import atomic_write_text

DIGEST_FILE = "file-digests.json"


def _store_path() -> Path:
    return cache_dir() / DIGEST_FILE


def _load_store() -> dict:
    try:
        data = json.loads(_store_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def hash_file(path: Path, algorithm: str) -> str:
    """The hex digest of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_digest(path: str | Path, algorithm: str = "md5") -> str:
    """The digest of ``path``, hashed only when its size or mtime changed since last time."""
    path = Path(path).resolve()
    st = path.stat()
    stamp = [st.st_size, st.st_mtime_ns]
    key = f"{algorithm}:{path}"
    store = _load_store()
    entry = store.get(key)
    if isinstance(entry, list) and len(entry) == 3 and entry[:2] == stamp:
        return str(entry[2])
    digest = hash_file(path, algorithm)
    store[key] = [*stamp, digest]  # one entry per file: an edited file replaces its old digest
    try:
        atomic_write_text(json.dumps(store, sort_keys=True), _store_path())
    except OSError:
        pass
    return digest


def verify_file(path: str | Path, expected: str, algorithm: str, fetch_hint: str) -> str:
    """Return the file's digest; a :class:`DataError` naming the file when it is not ``expected``."""
    actual = file_digest(path, algorithm)
    if actual != expected.lower():
        raise DataError(f"checksum mismatch for {path}: {algorithm} {actual}, expected {expected}. "
                        f"The file is corrupt or not the official one; replace it (for example delete "
                        f"it and run `{fetch_hint}`)")
    return actual
