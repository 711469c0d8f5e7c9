"""Speed of this code against a reference release, measured side by side: ratios, not absolute rates.

Absolute samples per second drift between machines and hours; a ratio
measured by alternating the two codes on the same machine in the same
minutes does not. The reference is a release's recorded commit (by default
release 0.1.0's, from ``results/release.json``), checked out as a git
worktree under ``.bench/`` and installed beside this checkout in a venv of
its own that borrows this venv's libraries (so both run the same torch).

Each workload is one ``hippo-bench run`` of a published protocol, shortened
(``--bench-n-tasks``), in a fresh process of each code, alternately
(reference, current, reference, current, ...); each run's own rows give the
times (``train_time_s_total``, ``wall_time_s``), so imports and start-up are
not counted. Printed per workload: the median of the per-pair ratios
(reference time / current time: above 1 is faster now) with their range.

    python scripts/bench_versus.py                     # every workload, 3 alternating pairs
    python scripts/bench_versus.py --workloads meta-hippo-rotated --pairs 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / ".bench"

# name -> (preset, extra flags, what it measures). Shortened streams keep a pair of runs within a minute or two.
WORKLOADS: dict[str, tuple[str, list[str], str]] = {
    "meta-hippo-rotated": ("seed-rotated-mnist", ["--bench-n-tasks", "10", "--alpha-init", "0.1"],
                           "meta-hippo both, the seed's rotated protocol (2 x 200), 10 of 20 tasks"),
    "meta-hippo-dual": ("seed-dual-mnist", ["--bench-n-tasks", "3"],
                        "meta-hippo both, the seed's dual protocol, 3 of 20 tasks"),
    "la-maml": ("lamaml-rotated", ["--bench-n-tasks", "1"], "La-MAML's rotated-MNIST preset, 1 of 20 tasks"),
    "mer": ("mer-rotated", ["--bench-n-tasks", "1", "--bench-samples-per-task", "250"],
            "MER's rotated-MNIST preset, 1 of 20 tasks of 250 images (of 1000)"),
}
METRICS = {"training": "train_time_s_total", "whole run": "wall_time_s"}


def reference_commit(release_json: Path) -> str:
    try:
        return json.loads(release_json.read_text())["commit"].split()[0]
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(f"no reference commit in {release_json} ({exc}); pass --commit") from None


def prepare(commit: str) -> Path:
    """The reference's hippo-bench executable: a worktree of ``commit`` and a venv borrowing this venv's libraries."""
    tree = BENCH / f"ref-{commit}"
    exe = tree / ".venv" / "bin" / "hippo-bench"
    if exe.exists():
        return exe
    BENCH.mkdir(exist_ok=True)
    if not tree.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit], check=True,
                       capture_output=True)
    subprocess.run([sys.executable, "-m", "venv", str(tree / ".venv")], check=True)
    import site

    libs = [p for p in site.getsitepackages() if p.endswith("site-packages")]
    pth = next((tree / ".venv" / "lib").glob("python*/site-packages")) / "zz_borrowed_libraries.pth"
    pth.write_text("\n".join(libs) + "\n")
    subprocess.run([str(tree / ".venv" / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "--no-deps",
                    "-e", str(tree)], check=True)
    return exe


def current_exe() -> Path:
    return Path(sys.executable).with_name("hippo-bench")


def one_run(exe: Path, preset: str, flags: list[str], data_root: str | None) -> dict[str, float]:
    """Times of one run in a fresh process of ``exe``, read from its own rows."""
    with tempfile.TemporaryDirectory(prefix="bench-versus-") as out:
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        if data_root:
            env["HIPPO_BENCH_DATA"] = data_root
        cmd = [str(exe), "run", "--preset", preset, *flags, "--seeds", "0", "--out", out, "--force"]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        files = list(Path(out).glob("*.parquet"))
        if done.returncode != 0 or len(files) != 1:
            raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
        table = pd.read_parquet(files[0])
    value = lambda m: float(table.loc[table["metric"] == m, "value"].iloc[-1])  # noqa: E731
    return {what: value(metric) for what, metric in METRICS.items()}


def compare(reference: Path, workloads: list[str], pairs: int, data_root: str | None) -> list[dict]:
    rows = []
    for name in workloads:
        preset, flags, what = WORKLOADS[name]
        ratios: dict[str, list[float]] = {k: [] for k in METRICS}
        times: dict[str, list[float]] = {f"{side} {k}": [] for side in ("reference", "current") for k in METRICS}
        for _ in range(pairs):
            ref = one_run(reference, preset, flags, data_root)
            cur = one_run(current_exe(), preset, flags, data_root)
            for k in METRICS:
                ratios[k].append(ref[k] / cur[k])
                times[f"reference {k}"].append(ref[k])
                times[f"current {k}"].append(cur[k])
        rows.append({"workload": name, "what": what, "pairs": pairs,
                     **{f"{k} ratio": statistics.median(v) for k, v in ratios.items()},
                     **{f"{k} range": (min(v), max(v)) for k, v in ratios.items()},
                     **{k: statistics.median(v) for k, v in times.items()}})
    return rows


def main(argv=None) -> int:
    from rich.console import Console
    from rich.table import Table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    ap.add_argument("--pairs", type=int, default=3, help="alternating (reference, current) pairs per workload")
    ap.add_argument("--commit", help="reference commit (default: release 0.1.0's, from results/release.json)")
    ap.add_argument("--data-root", default=os.environ.get("HIPPO_BENCH_DATA"))
    ap.add_argument("--clean", action="store_true", help="remove the reference worktree afterwards")
    args = ap.parse_args(argv)
    commit = args.commit or reference_commit(ROOT / "results" / "release.json")
    reference = prepare(commit)
    rows = compare(reference, args.workloads, args.pairs, args.data_root)
    table = Table(title=f"This code against {commit} (release 0.1.0 unless --commit), "
                        f"{args.pairs} alternating pairs per workload; ratio = reference time / current time",
                  title_justify="left")
    for col in ("workload", "training ratio (range)", "whole-run ratio (range)", "training s ref / now",
                "run s ref / now", "what"):
        table.add_column(col, justify="left" if col in ("workload", "what") else "right")
    for r in rows:
        lo, hi = r["training range"]
        wlo, whi = r["whole run range"]
        table.add_row(r["workload"], f"{r['training ratio']:.2f}x ({lo:.2f}-{hi:.2f})",
                      f"{r['whole run ratio']:.2f}x ({wlo:.2f}-{whi:.2f})",
                      f"{r['reference training']:.1f} / {r['current training']:.1f}",
                      f"{r['reference whole run']:.1f} / {r['current whole run']:.1f}", r["what"])
    Console(width=200).print(table)
    if args.clean:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(reference.parents[2])])
        shutil.rmtree(BENCH, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
