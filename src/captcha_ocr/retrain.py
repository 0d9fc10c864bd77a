"""Retraining from the labelling page: ``captcha-ocr train`` in a subprocess on the labels so far.

:class:`Retrainer` starts ``python -m captcha_ocr train DIR --out DIR/label-runs/run-NNN
--max-minutes M`` (a new numbered run folder each time, never one that exists), fine-tuning
from the session's current model when it is a PyTorch model (``--init``; again from scratch if
its architecture does not fit). It follows the run's output (``train.log`` in the run folder)
for the page's progress, and when the run succeeds switches the session's readings to the new
``model.pt``. The labelling server never waits for it: the subprocess has its own interpreter,
and the readings are recomputed in this module's thread.

A run is finished when its folder holds ``model.pt`` and no ``last.ckpt`` (``train`` deletes
that when it ends normally); :func:`latest_model` finds the newest, so a restarted labelling
server goes on with the model it had.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from .labelling import LabelSession

RUNS_DIR = "label-runs"
MIN_LABELS = 10  # fewer and the 10% validation split is empty or meaningless
_EPOCH = re.compile(r"^epoch (\d+):")
_VAL_ACC = re.compile(r"val_acc ([\d.]+)%")
_DONE = re.compile(r"^done in .*val accuracy ([\d.]+)%")
_SCHEDULE = re.compile(r"^schedule: (\d+) epochs")


def failure_message(tail: str) -> str:
    """What a failed run's log ends with, for the page: its last ``error`` line and the lines after it
    (the files an error names follow its heading), else its last line."""
    lines = tail.splitlines()
    last = max((i for i, line in enumerate(lines) if "error" in line.lower()), default=None)
    if last is None:
        return lines[-1] if lines else "no output"
    return "\n".join(lines[last:last + 6])


class RetrainError(RuntimeError):
    """Retraining cannot start now (one is running, or too few labels); the message says why."""


def finished_runs(runs_dir: Path) -> list[Path]:
    """Run folders whose training ended normally (``model.pt``, no ``last.ckpt``), oldest first."""
    if not runs_dir.is_dir():
        return []
    runs = [p for p in runs_dir.glob("run-*") if (p / "model.pt").is_file() and not (p / "last.ckpt").exists()]
    return sorted(runs, key=lambda p: p.name)


def latest_model(runs_dir: Path) -> Path | None:
    """The newest finished run's ``model.pt``, or ``None``."""
    runs = finished_runs(runs_dir)
    return runs[-1] / "model.pt" if runs else None


def new_run_dir(runs_dir: Path) -> Path:
    """``runs_dir/run-NNN`` with the next free number, created (never one that exists)."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in runs_dir.iterdir() if (m := re.fullmatch(r"run-(\d+)", p.name))]
    n = max(numbers, default=0) + 1
    while True:
        run = runs_dir / f"run-{n:03d}"
        try:
            run.mkdir()
            return run
        except FileExistsError:
            n += 1


class Retrainer:
    """Background retraining for a :class:`~captcha_ocr.labelling.LabelSession`.

    ``minutes``: the training budget of each run, or ``epochs``: a fixed number of epochs
    instead; ``every``: start one by itself after this many new labels (0: only when asked);
    ``runs_dir``: where run folders go (default ``DIR/label-runs``); ``extra_args``: more
    ``train`` options.
    """

    def __init__(self, session: LabelSession, minutes: float = 2.0, every: int = 0,
                 runs_dir: str | os.PathLike | None = None, extra_args: tuple[str, ...] = (),
                 min_labels: int = MIN_LABELS, epochs: int | None = None) -> None:
        self.session = session
        self.minutes = float(minutes)
        self.epochs = epochs
        self.every = int(every)
        self.runs_dir = Path(runs_dir) if runs_dir is not None else session.root / RUNS_DIR
        self.extra_args = tuple(extra_args)
        self.min_labels = min_labels
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._entered_at_start = 0
        self._status: dict = {"state": "idle", "runs": len(finished_runs(self.runs_dir))}

    def status(self) -> dict:
        """``state`` (idle, training, refreshing, done, failed), ``run``, ``labels``, ``epoch``,
        ``epochs`` (planned), ``val_accuracy``, ``elapsed_s``, ``budget_s``, ``message``."""
        with self._lock:
            out = dict(self._status)
        if out["state"] in ("training", "refreshing"):
            out["elapsed_s"] = round(time.time() - out["started"], 1)
        return out

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> dict:
        """Start a run now; :class:`RetrainError` if one is running or there are too few labels."""
        with self._lock:
            if self.running:
                raise RetrainError(f"a retraining run is already going ({self._status.get('run')})")
            labels = self.session.labelled_count()
            if labels < self.min_labels:
                raise RetrainError(f"retraining needs at least {self.min_labels} labels; there are {labels}")
            self.session.store.write()  # labels.csv holds every label (also those from file names)
            run = new_run_dir(self.runs_dir)
            self._entered_at_start = self.session.entered
            self._status = {"state": "training", "run": str(run), "labels": labels, "epoch": 0,
                            "epochs": self.epochs, "val_accuracy": None, "started": time.time(),
                            "budget_s": None if self.epochs else self.minutes * 60,
                            "message": "starting", "runs": self._status.get("runs", 0)}
            self._thread = threading.Thread(target=self._run, args=(run,), name="retrain", daemon=True)
            self._thread.start()
        return self.status()

    def after_label(self) -> None:
        """Start a run by itself when ``every`` new labels have come in since the last one."""
        if self.every and not self.running and self.session.entered - self._entered_at_start >= self.every:
            try:
                self.start()
            except RetrainError:
                pass

    def stop(self) -> None:
        """End a running training subprocess (the server is shutting down)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    # ------------------------------------------------------------------ the background thread

    def _update(self, **fields) -> None:
        with self._lock:
            self._status.update(fields)

    def _init_model(self, run: Path) -> str | None:
        """A model file to fine-tune from: the session's model, if it is a PyTorch one."""
        model = self.session.model
        if model is None or model.recognizer.backend.name != "torch":
            return None
        if Path(model.source).suffix == ".pt" and Path(model.source).is_file():
            return model.source
        from .bundle import save_bundle  # e.g. a named model: its bundle is in memory

        return str(save_bundle(model.recognizer.bundle, run / "init.pt"))

    def _train(self, run: Path, init: str | None) -> tuple[int, str]:
        length = ["--epochs", str(self.epochs)] if self.epochs else ["--max-minutes", f"{self.minutes:g}"]
        cmd = [sys.executable, "-m", "captcha_ocr", "train", str(self.session.root), "--out", str(run), *length,
               "--no-progress", *self.extra_args]
        if init:
            cmd += ["--init", init]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        tail: list[str] = []
        with open(run / "train.log", "a", encoding="utf-8") as log:
            log.write("$ " + " ".join(cmd) + "\n")
            self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                          env=env, bufsize=1)
            for line in self._proc.stdout:
                log.write(line)
                log.flush()
                line = line.strip()
                if not line:
                    continue
                tail = (tail + [line])[-20:]
                if m := _SCHEDULE.match(line):
                    self._update(epochs=int(m.group(1)), message=line)
                elif m := _EPOCH.match(line):
                    acc = _VAL_ACC.search(line)
                    self._update(epoch=int(m.group(1)), val_accuracy=float(acc.group(1)) / 100 if acc else None,
                                 message=line)
                elif m := _DONE.match(line):
                    self._update(best_val_accuracy=float(m.group(1)) / 100, message=line)
                elif not line.startswith(("warning", "note")):
                    self._update(message=line)
            rc = self._proc.wait()
        return rc, "\n".join(tail)

    def _run(self, run: Path) -> None:
        try:
            init = self._init_model(run)
            rc, tail = self._train(run, init)
            if rc != 0 and init and "architecture differs" in tail:
                self._update(message="the current model does not fit these images; training from scratch")
                rc, tail = self._train(run, None)
            if rc != 0:
                self._update(state="failed", message=failure_message(tail), finished=time.time())
                return
            model = run / "model.pt"
            self._update(state="refreshing", message=f"reading the unlabelled images with {model}")
            status = self.status()
            acc = status.get("best_val_accuracy")
            note = f"retrained on {status['labels']} labels" + (f", validation accuracy {acc:.0%}" if acc is not None
                                                                 else "")
            info = self.session.use_model(model, note)
            self._update(state="done", message=f"pre-fills now from {model} ({note})", model=str(model),
                         model_version=info.version, finished=time.time(), runs=len(finished_runs(self.runs_dir)))
        except Exception as exc:  # the page must learn that it failed, whatever the reason
            self._update(state="failed", message=f"{type(exc).__name__}: {exc}", finished=time.time())
        finally:
            self._proc = None
