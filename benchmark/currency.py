"""Is this result current? The one rule, used by every command, the leaderboards, the report and the tests.

Two questions with two answers (docs/DESIGN.md, "Results identity and releases"):

- **May a results file be reused instead of running?** Yes when every run in
  it finished (status ``ok``) and its ``code_fingerprint``
  equals the key of the code at hand (:func:`code_key`, a hash of the code
  that can change numbers, :mod:`hippo_bench.fingerprint`); a skipped or
  unreadable file is run again. A seed made
  with ``--vectorize-seeds`` has the same key as one made alone (their rows
  are the same), so it is reused by ``run``, ``sweep``, ``experiment``,
  ``verify --rewrite`` and the Python API alike.
- **Which release made a row, and is it the code's?** Every row records
  ``hippo_bench_version``. A row of an older release than the installed
  package is labelled so on every leaderboard and report page, and
  ``leaderboard check`` fails on it (:func:`older_release_runs`). This is read
  from the rows alone: no fingerprint is recomputed and no registry imported
  to render a table.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from hippo_bench.runner import RunSpec

CURRENT, STALE, ABSENT = "current", "stale", "absent"
RELEASE_COLUMN = "hippo_bench_version"  # as hippo_bench.results names it (not imported: that needs numpy)


# ------------------------------------------------------------------ reuse
def code_key(spec: "RunSpec") -> tuple[str, str]:
    """(key, detail) of the code a run of ``spec`` depends on, whichever path (alone or vectorised) runs it."""
    from hippo_bench.fingerprint import code_identity
    from hippo_bench.models import models
    from hippo_bench.strategies import strategies
    from hippo_bench.tasks import benchmarks

    strategy = spec.strategy
    if getattr(strategy, "runs_as", None):  # a path's own class (vectorised meta-hippo) keys as its strategy
        strategy = strategies.get(strategy.runs_as)
    return code_identity(strategy, benchmarks.get(spec.benchmark), models.get(spec.model))


def read_results(path: Path) -> pd.DataFrame | None:
    """An existing results file, or None when it is absent or cannot be read (it is then rerun)."""
    if path is None or not Path(path).exists():
        return None
    try:
        return pd.read_parquet(path)
    except Exception:  # noqa: BLE001 - any unreadable file just means "run again"
        return None


def reuse_state(path: Path | None, key: str) -> tuple[str, pd.DataFrame | None]:
    """("current" | "stale" | "absent", table) of the results file at ``path`` for code with key ``key``."""
    table = read_results(path) if path is not None else None
    if table is None or table.empty or not (table["status"] == "ok").all():
        return ABSENT, None
    stored = table["code_fingerprint"].iloc[0] if "code_fingerprint" in table.columns else ""
    return (CURRENT if stored == key else STALE), table


def state_of(out_dir: Path | None, spec: "RunSpec") -> tuple[str, pd.DataFrame | None]:
    """:func:`reuse_state` of ``spec``'s results in ``out_dir`` (absent without a folder).

    The file is ``<run_id>.parquet``; failing that, a file an older release
    named by its own identity scheme (:func:`older_names`), which is stale by
    definition and reused only where the caller asks for stale results.
    """
    return located_state_of(out_dir, spec)[:2]


def located_state_of(out_dir: Path | None, spec: "RunSpec") -> tuple[str, pd.DataFrame | None, Path | None]:
    """:func:`state_of` with the path of the file it read (None when absent)."""
    if out_dir is None:
        return ABSENT, None, None
    from hippo_bench.results import result_path

    path = result_path(out_dir, spec.run_id)
    if not path.exists():
        older = older_names(Path(out_dir)).get(spec.run_id)
        if older is None:
            return ABSENT, None, None
        state, table = reuse_state(older, "")
        return (STALE if state != ABSENT else ABSENT), table, (older if state != ABSENT else None)
    state, table = reuse_state(path, code_key(spec)[0])
    return state, table, (path if state != ABSENT else None)


_OLDER_NAMES: dict[Path, tuple[float, dict[str, Path]]] = {}


def older_names(folder: Path) -> dict[str, Path]:
    """run_id -> file, for results files named by an older identity scheme (0.1.0 hashed its version into run_id).

    Read once per folder and process while the folder is unchanged.
    """
    from hippo_bench.results import IDENTITY_KEYS, identity_of_row, run_id_of

    folder = Path(folder)
    try:
        stamp = folder.stat().st_mtime
    except OSError:
        return {}
    cached = _OLDER_NAMES.get(folder)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    names: dict[str, Path] = {}
    for path in sorted(folder.glob("*.parquet")):
        try:
            first = pd.read_parquet(path, columns=list(IDENTITY_KEYS)).iloc[0]
        except Exception:  # noqa: BLE001 - an unreadable or foreign file names nothing
            continue
        run_id = run_id_of(identity_of_row(first))
        if run_id != path.stem:
            names[run_id] = path
    _OLDER_NAMES[folder] = (stamp, names)
    return names


# -------------------------------------------------------------- releases
def _version(text: str):
    from packaging.version import InvalidVersion, Version

    try:
        return Version(str(text))
    except InvalidVersion:
        return None


def code_version() -> str:
    """The installed package's version: the release (or development version) new rows are labelled with."""
    from hippo_bench import __version__

    return __version__


def is_older_release(row_version: str, version: str | None = None) -> bool:
    """Whether a row labelled ``row_version`` was made by an older release than ``version`` (default: the code's).

    Rows of the code's own version are current; a development version
    (0.2.0.dev0) is newer than the release before it (0.1.0) and older than
    its own release (0.2.0), so a release regenerates its development rows.
    An unreadable label counts as older.
    """
    mine, theirs = _version(version or code_version()), _version(row_version)
    if mine is None:
        return False
    return theirs is None or theirs < mine


def releases_of(runs: pd.DataFrame) -> list[str]:
    """The release labels of a table's rows, oldest first."""
    if runs.empty or RELEASE_COLUMN not in runs.columns:
        return []
    labels = {str(v) for v in runs[RELEASE_COLUMN].dropna().unique()}
    return sorted(labels, key=lambda v: (_version(v) is None, _version(v) or v))


def older_release_runs(runs: pd.DataFrame, version: str | None = None) -> set[str]:
    """run_ids whose rows were made by an older release than ``version`` (default: the code's)."""
    if runs.empty or RELEASE_COLUMN not in runs.columns:
        return set()
    first = runs.drop_duplicates("run_id")
    older = {v for v in first[RELEASE_COLUMN].astype(str).unique() if is_older_release(v, version)}
    return set(first.loc[first[RELEASE_COLUMN].astype(str).isin(older), "run_id"])


def release_line(runs: pd.DataFrame, version: str | None = None) -> str:
    """One sentence for a caption: which release made these rows, and whether it is the code's."""
    labels = releases_of(runs)
    if not labels:
        return ""
    version = version or code_version()
    older = [v for v in labels if is_older_release(v, version)]
    text = f"Release: {', '.join(labels)}"
    if older:
        text += (f" (rows of {', '.join(older)} were made by an older release than this code, {version}; "
                 f"the next release regenerates them)")
    return text + "."
