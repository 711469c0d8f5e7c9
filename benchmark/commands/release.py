"""``hippo-bench release``: regenerate every published number with the code at hand, resumably.

1. every run in ``results/`` not yet made by this release is rerun from its
   stored configuration on a pool of worker processes (the sweep's), and the
   file it replaces is removed;
2. the leaderboards are rebuilt from ``results/``;
3. ``hippo-bench experiment all --seeds 10`` regenerates ``reports/runs/`` and
   the claim pages; files of an older release left there are removed;
4. each folder's ``release.json`` is written (release, commit, command, wall
   time summed over the invocations that made it, environment).

Stopped and started again, also in a later session, it redoes nothing that is
done: a file of this release made by the current code is kept (its rows carry
their release and code key).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from hippo_bench.commands import Parser, console
from hippo_bench.errors import UserError


def main(argv: Sequence[str]) -> int:
    from hippo_bench.currency import code_version
    from hippo_bench.release import REPORT_SEEDS, outdated

    parser = Parser(prog="hippo-bench release",
                    description="Regenerate the published results, leaderboards and claim reports with this code.")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default: 2)")
    parser.add_argument("--only", choices=("results", "reports"), help="one part only (default: both)")
    parser.add_argument("--results", default="results", help="published runs (default: results)")
    parser.add_argument("--leaderboards", default="leaderboards", help="their boards (default: leaderboards)")
    parser.add_argument("--reports", default="reports", help="claim reports; their runs are in <reports>/runs "
                        "(default: reports)")
    parser.add_argument("--seeds", type=int, default=REPORT_SEEDS, help=f"seeds per claim (default: {REPORT_SEEDS})")
    parser.add_argument("--quick", action="store_true", help="the experiments' reduced versions (for tests)")
    parser.add_argument("--dry-run", action="store_true", help="say what is due; run nothing")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        raise UserError(f"--jobs: must be >= 1, got {args.jobs}")
    results, reports = Path(args.results), Path(args.reports)
    runs = reports / "runs"
    con = console()
    version = code_version()
    parts = [args.only] if args.only else ["results", "reports"]
    if "results" in parts and not results.is_dir():
        raise UserError(f"--results: folder not found: {results}")
    for part, folder in (("results", results), ("reports", runs)):
        if part in parts and folder.is_dir():
            con.print(f"{folder}/: {len(outdated(folder))} run(s) not yet made by {version} with this code")
    if args.dry_run:
        return 0
    ok = True
    if "results" in parts:
        ok &= _results(results, Path(args.leaderboards), args.jobs, version, con)
    if "reports" in parts:
        ok &= _reports(reports, args.seeds, args.quick, args.jobs, version, con)
    return 0 if ok else 1


def _results(folder: Path, boards: Path, jobs: int, version: str, con) -> bool:
    from hippo_bench.data_root import resolve_data_root
    from hippo_bench.release import regenerate, remove_older
    from hippo_bench.reporting.leaderboard import build_leaderboards

    t0 = time.perf_counter()
    done, failed = regenerate(folder, jobs, resolve_data_root(None),
                              on_done=lambda job, r: con.print(f"  {r.status:>6}  {job.run_id}  {r.seconds:.0f} s"))
    complete = failed == 0
    if complete:
        removed = remove_older(folder)
        if removed:
            con.print(f"removed {len(removed)} file(s) of an older release from {folder}/")
    build_leaderboards(folder, boards)
    _manifest(folder, version, f"hippo-bench release --only results --results {folder}",
              time.perf_counter() - t0, complete)
    con.print(f"{folder}/: {done} regenerated, {failed} failed; leaderboards rebuilt in {boards}/")
    return complete


def _reports(reports: Path, seeds: int, quick: bool, jobs: int, version: str, con) -> bool:
    from hippo_bench.commands import experiment
    from hippo_bench.release import remove_older

    runs = reports / "runs"
    t0 = time.perf_counter()
    argv = ["all", "--seeds", str(seeds), "--jobs", str(jobs), "--results", str(runs), "--out", str(reports)]
    complete = experiment.main(argv + (["--quick"] if quick else [])) == 0
    if complete:
        removed = remove_older(runs)
        if removed:
            con.print(f"removed {len(removed)} file(s) of an older release from {runs}/")
    _manifest(runs, version, "hippo-bench experiment " + " ".join(argv + (["--quick"] if quick else [])),
              time.perf_counter() - t0, complete)
    return complete


def _manifest(folder: Path, version: str, command: str, seconds: float, complete: bool) -> None:
    """Write ``release.json``; the wall time adds up over the invocations that made this release."""
    from hippo_bench.release import manifest_of, read_manifest, write_manifest
    from hippo_bench.results import git_state

    before = read_manifest(folder) or {}
    earlier = float(before.get("wall_time_s") or 0) if before.get("release") == version \
        and not before.get("complete", True) else 0.0
    commit, dirty = git_state()
    manifest = manifest_of(folder, release=version, commit=commit + (" (uncommitted edits)" if dirty == "true" else ""),
                           command=command, wall_time_s=earlier + seconds,
                           note="" if complete else "incomplete: run `hippo-bench release` again to finish")
    manifest["complete"] = complete
    manifest["invocations"] = int(before.get("invocations", 0)) + 1 if earlier else 1
    write_manifest(folder, manifest)
