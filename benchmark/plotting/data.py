"""What the figures read from the tidy results: one run or one configuration, averaged over seeds."""

from __future__ import annotations

import dataclasses
import difflib
import json
from typing import Any

import numpy as np
import pandas as pd

from hippo_bench.errors import UserError
from hippo_bench.results import accuracy_matrix


@dataclasses.dataclass
class Selection:
    """The ok rows of one run (``kind`` "run") or of every seed of one configuration ("config")."""

    ident: str
    kind: str
    rows: pd.DataFrame

    @property
    def first(self) -> pd.Series:
        return self.rows.iloc[0]

    @property
    def n_seeds(self) -> int:
        return int(self.rows["run_id"].nunique())

    @property
    def seeds(self) -> list[int]:
        return sorted(int(s) for s in self.rows["seed"].unique())

    @property
    def title(self) -> str:
        """"strategy on benchmark (model)", the figures' common heading."""
        f = self.first
        return f"{f['strategy']} on {f['benchmark']} ({f['model']})"

    @property
    def seed_text(self) -> str:
        n = self.n_seeds
        return f"seed {self.seeds[0]}" if n == 1 else f"mean over {n} seeds"

    def model_params(self) -> dict[str, Any]:
        return json.loads(self.first["model_params"])


def select(df: pd.DataFrame, ident: str) -> Selection:
    """The rows of run ``ident`` or, failing that, of configuration ``ident`` (completed runs only).

    An unknown id is a user error naming the closest ids of the results.
    """
    ok = df[df["status"] == "ok"] if not df.empty else df
    for column, kind in (("run_id", "run"), ("config_id", "config")):
        if column in ok.columns:
            rows = ok[ok[column] == ident]
            if not rows.empty:
                return Selection(ident, kind, rows.reset_index(drop=True))
    known = sorted(set(ok["run_id"]) | set(ok["config_id"])) if not ok.empty else []
    close = difflib.get_close_matches(ident, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UserError(f"no completed run or configuration {ident!r} in the results{hint}")


def mean_accuracy(sel: Selection) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(mean R, std R, mean before-training row, std of it) over the selection's runs (NaN where absent)."""
    mats, befores = [], []
    for _, run in sel.rows.groupby("run_id", sort=True):
        R, b = accuracy_matrix(run)
        mats.append(R)
        if b is not None:
            befores.append(b)
    T = max(m.shape[0] for m in mats)
    stack = np.full((len(mats), T, T), np.nan)
    for k, m in enumerate(mats):
        stack[k, : m.shape[0], : m.shape[1]] = m
    with np.errstate(all="ignore"), _quiet_nan():
        R_mean, R_std = np.nanmean(stack, axis=0), np.nanstd(stack, axis=0)
        if befores:
            bs = np.array([np.pad(b, (0, T - len(b)), constant_values=np.nan) for b in befores])
            return R_mean, R_std, np.nanmean(bs, axis=0), np.nanstd(bs, axis=0)
    return R_mean, R_std, None, None


def has_accuracy(sel: Selection) -> bool:
    acc = sel.rows[(sel.rows["metric"] == "accuracy") & (sel.rows["eval_exp"] >= 0) & (sel.rows["lesion"] == "")]
    return not acc.empty


def item_correlations(sel: Selection) -> dict[str, np.ndarray]:
    """layer -> symmetric item x item pattern-correlation matrix (final evaluation, intact, mean over runs).

    The tidy rows hold each pair once (``item_a`` < ``item_b``); the
    diagonal is 1 by definition.
    """
    rows = sel.rows[(sel.rows["metric"] == "item_correlation") & (sel.rows["lesion"] == "")]
    if rows.empty or "item_a" not in rows.columns:
        return {}
    rows = rows[rows["train_exp"] == rows["train_exp"].max()]
    out = {}
    for layer in dict.fromkeys(rows["entity"]):
        sub = rows[rows["entity"] == layer]
        mean = sub.groupby(["item_a", "item_b"])["value"].mean()
        n = int(max(sub["item_a"].max(), sub["item_b"].max())) + 1
        M = np.full((n, n), np.nan)
        np.fill_diagonal(M, 1.0)
        for (a, b), v in mean.items():
            M[int(a), int(b)] = M[int(b), int(a)] = v
        out[str(layer)] = M
    return out


class _quiet_nan:
    """Silence numpy's "mean of empty slice" warnings (an all-NaN cell stays NaN)."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def load_checked(results_dir) -> pd.DataFrame:
    """The results under a folder, for figures and reports; a user error when there is nothing to show.

    Nothing to show: no folder, no results files, files that cannot be
    read, or only results of another hippo-bench version (their parameters
    and metrics may mean something else).
    """
    from pathlib import Path

    from hippo_bench.results import load_results

    root = Path(results_dir)
    if not root.is_dir():
        raise UserError(f"--results: folder not found: {root}")
    if not any(root.rglob("*.parquet")):
        raise UserError(f"no results under {root}/ (hippo-bench run writes them there)")
    try:
        df = load_results(root)
    except Exception as exc:  # noqa: BLE001 - a damaged file is the user's to fix
        raise UserError(f"cannot read the results under {root}/: {type(exc).__name__}: {exc}") from None
    if "hippo_bench_version" not in df.columns:
        raise UserError(f"the files under {root}/ are not hippo-bench results (no hippo_bench_version column)")
    return df  # rows of any release: the pages say which release made them (hippo_bench.currency)
