"""What a training run leaves in its folder: ``metrics.csv``, ``model.pt``, ``curves.png``,
``last.ckpt`` and, at the end, ``errors.png``, ``confusions.csv`` and ``suspect_labels.csv``.

Under multi-process training every process keeps the same history (the metrics are computed
from all processes' readings, see :mod:`captcha_ocr.system`), so all agree on the best epoch;
only the first process (``trainer.is_global_zero``) prints and writes files.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import lightning as L
from lightning.pytorch.callbacks import Callback

from .bundle import Bundle, load_bundle, save_bundle
from .dataset import LabelledImages
from .errors import DataError
from .schedule import SCHEDULE_FILE
from .system import CTCSystem

# what a run draws and writes beside its model: an earlier run's are removed when a new run starts in the folder
# (a run with --no-report would otherwise leave the last run's plots beside its own model)
REPORT_FILES = ("curves.png", "errors.png", "confusions.csv", "suspect_labels.csv")


class RunRecorder(Callback):
    """Writes ``metrics.csv`` (and ``curves.png``) each epoch, prints a summary line, keeps and
    saves the best model, and writes ``last.ckpt`` to resume from. Its history travels in that
    checkpoint (``state_dict``), so a resumed run continues the same ``metrics.csv``.

    ``make_bundle(system, epoch, metrics) -> Bundle`` makes the model file of an epoch.
    """

    CURVES_EVERY = 20.0
    COLUMNS = ["epoch", "train_loss", "val_loss", "val_accuracy", "val_cer", "lr", "seconds"]

    def __init__(self, out: Path, make_bundle: Callable[[CTCSystem, int, dict], Bundle] | None, has_val: bool,
                 print_fn=print, curves: bool = True, fingerprint: str = "") -> None:
        self.out = out
        self.metrics_path = out / "metrics.csv"
        self.model_path = out / "model.pt"
        self.checkpoint_path = out / "last.ckpt"
        self.schedule_path = out / SCHEDULE_FILE  # a budgeted run's plan, kept in the checkpoint too
        self.fingerprint = fingerprint  # what the run trains on; a resume must match it
        self.curves_path: Path | None = out / "curves.png" if curves else None
        self.rows: list[dict] = []
        self.make_bundle = make_bundle
        self.has_val = has_val
        self.print = print_fn
        self.best_key: tuple[float, float] | None = None
        self.best_epoch = -1
        self.best_metrics: dict[str, float] = {}
        self.start = time.perf_counter()
        self._drawn = float("-inf")  # when curves.png was last drawn

    def _write_csv(self, rows: list[list], mode: str = "a") -> None:
        with open(self.metrics_path, mode, newline="") as fh:
            writer = csv.writer(fh)
            for row in rows:
                writer.writerow(["" if v is None else (f"{v:.6g}" if isinstance(v, float) else v) for v in row])

    def state_dict(self) -> dict:
        return {"rows": self.rows, "best_key": self.best_key, "best_epoch": self.best_epoch,
                "best_metrics": self.best_metrics, "elapsed": time.perf_counter() - self.start,
                "fingerprint": self.fingerprint,
                "schedule": json.loads(self.schedule_path.read_text()) if self.schedule_path.is_file() else None}

    def check_fingerprint(self, state: dict) -> None:
        """Raise a :class:`DataError` when ``state`` (a checkpoint's :meth:`state_dict`) is of a run on other
        data or settings than this one."""
        if state.get("fingerprint") != self.fingerprint:
            raise DataError(
                f"{self.checkpoint_path}: the interrupted run trained on other data or settings "
                f"({state.get('fingerprint')}) than this one ({self.fingerprint}); resume with the same "
                f"arguments, or start a new run without --resume"
            )

    def load_state_dict(self, state: dict) -> None:
        self.check_fingerprint(state)
        self.rows = list(state["rows"])
        self.best_key = tuple(state["best_key"]) if state["best_key"] is not None else None
        self.best_epoch, self.best_metrics = state["best_epoch"], dict(state["best_metrics"])
        self.start = time.perf_counter() - state["elapsed"]
        if self.best_key is not None and not self.model_path.is_file():
            # the best model so far is gone: the next epoch's is saved whatever its score
            self.print(f"note: {self.model_path} is missing (epoch {self.best_epoch}'s model, the best so far); the "
                       f"resumed run saves its next epoch's model, and from then on the best")
            self.best_key, self.best_epoch, self.best_metrics = None, -1, {}

    def on_fit_start(self, trainer: L.Trainer, system: CTCSystem) -> None:
        # after a resume's checkpoint is restored: metrics.csv starts over with the rows it holds
        if trainer.is_global_zero:
            self._write_csv([self.COLUMNS] + [[r[c] for c in self.COLUMNS] for r in self.rows], mode="w")

    def on_train_epoch_end(self, trainer: L.Trainer, system: CTCSystem) -> None:
        if trainer.sanity_checking:
            return
        m = dict(system.epoch_metrics, train_loss=system.train_loss())  # every process takes part
        epoch = trainer.current_epoch + 1
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        row = [epoch, m.get("train_loss"), m.get("val_loss"), m.get("val_accuracy"), m.get("val_cer"), lr,
               round(time.perf_counter() - self.start, 2)]
        self.rows.append(dict(zip(self.COLUMNS, row)))
        if self.has_val:
            key = (m.get("val_accuracy", 0.0), -m.get("val_loss", float("inf")))
            msg = (f"epoch {epoch}: train_loss {m.get('train_loss', float('nan')):.4f}  val_loss "
                   f"{m.get('val_loss', float('nan')):.4f}  val_acc {m.get('val_accuracy', 0):.2%}  "
                   f"val_cer {m.get('val_cer', 0):.4f}")
        else:
            key = (float(epoch), 0.0)  # no validation: the latest model is the best we know
            msg = f"epoch {epoch}: train_loss {m.get('train_loss', float('nan')):.4f}"
        improved = self.best_key is None or key > self.best_key
        if improved:
            self.best_key, self.best_epoch, self.best_metrics = key, epoch, m
        if trainer.is_global_zero:
            self._write_csv([row])
            # redrawn at most every CURVES_EVERY seconds (a plot costs about as much as a small
            # epoch's training) and once more at the end
            if self.curves_path is not None and time.perf_counter() - self._drawn >= self.CURVES_EVERY:
                self._draw_curves()
            if improved:
                save_bundle(self.make_bundle(system, epoch, m), self.model_path)
                msg += "  (saved)"
            self.print(msg)
        # every process calls it; Lightning writes the file from the first only (atomically: a
        # temporary file, then a move) and waits for all
        trainer.save_checkpoint(self.checkpoint_path, weights_only=False)

    def on_fit_end(self, trainer: L.Trainer, system: CTCSystem) -> None:
        if trainer.is_global_zero and self.curves_path is not None and self.rows:
            self._draw_curves()

    def _draw_curves(self) -> None:
        self._drawn = time.perf_counter()
        from .plots import save_curves

        try:
            save_curves(self.rows, self.curves_path)
        except ImportError:
            self.print("warning: matplotlib is not installed, so no curves.png (pip install 'captcha-ocr[plots]')")
            self.curves_path = None
        except Exception as exc:  # a plotting problem must never stop training
            self.print(f"warning: could not draw curves.png ({type(exc).__name__}: {exc}); not trying again")
            self.curves_path = None


class RunReport(NamedTuple):
    """What :func:`write_run_report` wrote and counted."""

    paths: list[Path]  # errors.png, confusions.csv, suspect_labels.csv
    suspects: int  # wrong readings at confidence >= SUSPECT_CONFIDENCE (often a wrong label)
    case_only: int  # wrong readings that are right when case is ignored
    images: int  # validation images read


def write_run_report(out: Path, model_path: Path, val: LabelledImages, batch_size: int = 256) -> RunReport:
    """``errors.png``, ``confusions.csv`` and ``suspect_labels.csv`` for the saved (best) model on the
    validation images (already resized uint8 ``[N, C, H, W]``), read the way
    :class:`~captcha_ocr.recognizer.Recognizer` reads (its default decoder), and the counts of suspect
    labels (:func:`~captcha_ocr.metrics.suspect_labels`) and of mistakes in case only
    (:func:`~captcha_ocr.metrics.case_only_mistakes`)."""
    from .metrics import case_only_mistakes, suspect_labels
    from .recognizer import Recognizer
    from .report import write_report

    rec = Recognizer(load_bundle(model_path))
    preds = []
    for i in range(0, len(val), batch_size):
        batch = rec.preprocess.normalize(val.images[i : i + batch_size])
        preds.extend(rec.decode_logits(rec.logits(batch)))
    texts, confidences = [p.text for p in preds], [p.confidence for p in preds]
    paths = write_report(out, val.labels, texts, confidences, lambda i: val.images[i], val.paths)
    return RunReport(paths, len(suspect_labels(val.labels, texts, confidences)),
                     len(case_only_mistakes(val.labels, texts)), len(texts))
