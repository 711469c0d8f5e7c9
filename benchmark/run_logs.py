"""Avalanche loggers for runs: what a run records, per experience, also in TensorBoard, CSV, text or W&B.

``--log KIND`` (repeatable) with ``--log-dir DIR`` on ``run``, ``sweep`` and
``experiment``, or ``loggers=`` on :func:`hippo_bench.run`, gives each run its
own loggers under ``<log-dir>/<run_id>/``. Avalanche's evaluation plugin sends
them the training loss per epoch and experience; after every evaluation the
runner sends them every tidy row the run records (accuracy per test
experience, % active and m per layer, learned rate per projection, lesion
accuracies, ...) as ``hippo/<metric>[/<entity>][/lesion-<name>][/exp<j>]``
against the number of experiences trained (0: before training). Item-by-item
rows (the CLS item correlations, a matrix per layer) stay in the results file.

The loggers are Avalanche's, with what they lack here filled in:
``csv`` writes every value to ``metrics.csv`` beside Avalanche's own CSV files;
``text`` prints each value as it comes (Avalanche's text logger prints only at
its own evaluation callbacks, which the runner's batched evaluation does not
call); ``wandb`` runs offline unless ``WANDB_MODE`` says otherwise, and works
with the installed wandb (Avalanche 0.6's logger calls ``wandb.util.generate_id``
and ``wandb.viz``, which wandb 0.19 and later no longer have).
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import math
import os
from pathlib import Path
from typing import Any

from hippo_bench.errors import UserError

KINDS = ("text", "csv", "tensorboard", "wandb")
NEEDS = {"tensorboard": ("tensorboard", "pip install 'hippo-bench[tensorboard]' (or pip install tensorboard)"),
         "wandb": ("wandb", "pip install wandb")}
PREFIX = "hippo"


@dataclasses.dataclass(frozen=True)
class LogRequest:
    """Which loggers every run gets, and the folder their files go under (one sub-folder per run)."""

    kinds: tuple[str, ...]
    folder: Path

    @classmethod
    def of(cls, kinds: Any, folder: Any) -> "LogRequest | None":
        """The request of the ``log`` and ``log_dir`` run keys (None when no logger is asked for)."""
        if kinds in (None, [], ()):
            return None
        if isinstance(kinds, str):
            kinds = [kinds]
        if not isinstance(kinds, (list, tuple)) or not all(isinstance(k, str) for k in kinds):
            raise UserError(f"--log: expected logger names ({', '.join(KINDS)}), got {kinds!r}")
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise UserError(f"--log: unknown logger {unknown[0]!r}; choose from {', '.join(KINDS)}")
        for kind in kinds:
            module, how = NEEDS.get(kind, (None, ""))
            if module and importlib.util.find_spec(module) is None:
                raise UserError(f"--log {kind}: the {module} package is not installed; {how}")
        return cls(tuple(dict.fromkeys(kinds)), Path(str(folder or "logs")))


def metric_name(row: dict) -> str:
    """The logged name of a tidy row."""
    parts = [PREFIX, str(row["metric"])]
    if row.get("entity"):
        parts.append(str(row["entity"]))
    if row.get("lesion"):
        parts.append(f"lesion-{row['lesion']}")
    if int(row.get("eval_exp", -1)) >= 0:
        parts.append(f"exp{int(row['eval_exp']):03d}")
    return "/".join(parts)


class RunLog:
    """The loggers of one run: Avalanche's plugin side (training metrics) and the rows after each evaluation."""

    def __init__(self, request: LogRequest, run_id: str, label: str):
        self.folder = request.folder / run_id
        self.folder.mkdir(parents=True, exist_ok=True)
        self.loggers = [_make(kind, self.folder, run_id, label) for kind in request.kinds]
        self._sent = 0

    def evaluator(self):
        """The Avalanche evaluation plugin that sends the training loss to the loggers."""
        from avalanche.evaluation.metrics import loss_metrics
        from avalanche.training.plugins import EvaluationPlugin

        return EvaluationPlugin(loss_metrics(epoch=True, experience=True), loggers=self.loggers)

    def rows(self, rows: list[dict]) -> None:
        """Send the rows recorded since the last call (x: experiences trained so far)."""
        for row in rows[self._sent:]:
            if int(row.get("item_a", -1)) >= 0:
                continue  # item-by-item matrices stay in the results file
            value = float(row["value"])
            if not math.isfinite(value):
                continue
            name, x = metric_name(row), int(row["train_exp"]) + 1
            for logger in self.loggers:
                logger.log_single_metric(name, value, x)
        self._sent = len(rows)

    def skip(self, rows: list[dict]) -> None:
        """Rows already sent (by an attempt that was interrupted and is now resumed)."""
        self._sent = len(rows)

    def close(self) -> None:
        for logger in self.loggers:
            closer = getattr(logger, "close", None) or getattr(logger, "finish", None)
            if closer is not None:
                closer()


def _make(kind: str, folder: Path, run_id: str, label: str):
    if kind == "tensorboard":
        from avalanche.logging import TensorboardLogger

        return TensorboardLogger(tb_log_dir=folder / "tensorboard")
    if kind == "csv":
        return _csv_logger()(folder / "csv")
    if kind == "text":
        return _text_logger()(open(folder / "log.txt", "w", encoding="utf-8"))
    os.environ.setdefault("WANDB_SILENT", "true")
    return _wandb_logger()(project_name=os.environ.get("WANDB_PROJECT", "hippo-bench"), run_name=label,
                           dir=str(folder), save_code=False,
                           params={"id": run_id, "mode": os.environ.get("WANDB_MODE", "offline"),
                                   "reinit": True})


def _csv_logger():
    from avalanche.logging import CSVLogger

    class RowsCSVLogger(CSVLogger):
        """Avalanche's CSV logger, plus ``metrics.csv``: every value sent to it (x, name, value)."""

        def __init__(self, log_folder):
            super().__init__(log_folder=str(log_folder))
            self._rows_file = open(Path(log_folder) / "metrics.csv", "w", newline="", encoding="utf-8")
            self._rows = csv.writer(self._rows_file)
            self._rows.writerow(["x", "name", "value"])

        def log_single_metric(self, name, value, x_plot):
            if isinstance(value, (int, float)):
                self._rows.writerow([x_plot, name, repr(float(value))])
                self._rows_file.flush()

        def close(self):
            self._rows_file.close()
            super().close()

    return RowsCSVLogger


def _text_logger():
    from avalanche.logging import TextLogger

    class PrintingTextLogger(TextLogger):
        """Avalanche's text logger, printing each value as it is sent."""

        def log_single_metric(self, name, value, x_plot):
            super().log_single_metric(name, value, x_plot)
            if isinstance(value, (int, float)):
                print(f"{x_plot}\t{name}\t{float(value):.6g}", file=self.file, flush=True)

        def close(self):
            if self.file is not None and not self.file.closed:
                self.file.close()

    return PrintingTextLogger


def _wandb_logger():
    from avalanche.logging import WandBLogger

    class CurrentWandBLogger(WandBLogger):
        """Avalanche's W&B logger on the installed wandb: the run id is ours, scalars go straight to ``wandb.log``."""

        def before_run(self):
            if self.wandb is None:
                self.import_wandb()
            self.wandb.init(**self.init_kwargs)

        def log_single_metric(self, name, value, x_plot):
            # W&B steps must only grow, and the training metrics count iterations while the rows count
            # experiences: each value goes with its own x as "x" instead.
            if isinstance(value, (int, float)):
                self.wandb.log({name: float(value), "x": x_plot})

        def close(self):
            self.wandb.finish()

    return CurrentWandBLogger
