"""A training schedule laid over a time budget, from the measured cost of a step.

A fixed epoch count costs two to three times more on bigger images; instead, before training,
:func:`measure_step_seconds` times a few real optimiser steps (and one validation batch) on a
throw-away copy of the network, and :func:`plan_epochs` fits as many epochs as the budget holds,
so the one-cycle learning-rate schedule runs its whole course within the budget.

A few steps timed before training can be 10-20% off what an epoch then costs (measured: a 5-minute run
that ended after 223 s, another that took 308 s), so :class:`Replan` times the first epochs themselves
and lengthens or shortens the schedule to fit (:class:`ResizableOneCycleLR`). Later epochs can cost
more than the first ones (augmentation starts once the model reads; measured: 2-minute runs whose
epochs after the third took 20-35% longer and ended 12% past the budget), so it looks again at
:data:`REPLAN_CHECKS` of the way through, timing the latest epochs. A look that finds the plan past the
budget always shortens it (a 5-minute run that let a 5% overrun stand took 304.6 s); one that finds
room lengthens it only by more than :data:`REPLAN_TOLERANCE`.
"""

from __future__ import annotations

import copy
import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

from .errors import DataError
from .files import write_atomic

SCHEDULE_FILE = "schedule.json"  # in the run folder: the plan a resumed run keeps (the checkpoint holds a copy)
BUDGET_SHARE = 0.92  # of the budget, for training and validation (the rest: reading images, saving, the report)
REPLAN_AFTER = 3  # epochs timed before the schedule is re-planned
REPLAN_TOLERANCE = 0.05  # lengthen the plan only when the epoch count would grow by more than this share
REPLAN_CHECKS = (0.4, 0.7)  # shares of the planned epochs at which the schedule is timed again


@dataclass(frozen=True)
class Plan:
    """How many epochs fit the budget, and the measurements behind it."""

    epochs: int
    step_seconds: float
    epoch_seconds: float
    budget_seconds: float
    fit: int | None = None  # the epochs the budget holds (more than ``epochs`` where capped, fewer at the floor)

    def describe(self) -> str:
        measured = f"measured {self.step_seconds * 1000:.0f} ms a step, about {self.epoch_seconds:.1f} s an epoch"
        if self.fit is not None and self.fit < self.epochs:
            return (f"schedule: {self.epochs} epochs, though {self.budget_seconds / 60:.1f} minutes hold only "
                    f"{self.fit} ({measured}): the run stops at the budget, before its learning rate has cooled; "
                    f"give more time (--max-minutes) or fewer images")
        return f"schedule: {self.epochs} epochs to fit {self.budget_seconds / 60:.1f} minutes ({measured})"


def measure_step_seconds(system, train_loader, val_loader=None, steps: int = 10) -> tuple[float, float]:
    """``(seconds per training step, seconds per validation pass)`` on a copy of ``system``'s
    network (its weights are not touched), with the run's own batches, preprocessing and
    augmentation: each timed step takes its batch from the loader, clips the gradients as the
    run will, and reads the loss back, as a training step does. The first step is not timed
    (allocation, kernel selection)."""
    model = copy.deepcopy(system.model).train()
    was_active, system.augment_active = system.augment_active, True  # time the steps as they will be
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    clip = system.tc.grad_clip
    batches = iter(train_loader)
    times = []
    for i in range(steps + 1):
        start = time.perf_counter()
        try:
            batch = next(batches)
        except StopIteration:
            batches = iter(train_loader)
            batch = next(batches)
        x, targets, lengths, _ = system.prepare_batch(batch, training=True)
        loss = system.losses(model(x), targets, lengths).mean()
        opt.zero_grad()
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        loss.item()
        if i:
            times.append(time.perf_counter() - start)
    system.augment_active = was_active
    step = sorted(times)[len(times) // 2]
    val_seconds = 0.0
    if val_loader is not None and len(val_loader):
        model.eval()
        batch = next(iter(val_loader))
        start = time.perf_counter()
        with torch.inference_mode():
            x, *_ = system.prepare_batch(batch, training=False)
            model(x)
        val_seconds = (time.perf_counter() - start) * len(val_loader) * 1.3  # + decoding and scoring
    return step, val_seconds


def plan_epochs(step_seconds: float, steps_per_epoch: int, val_seconds: float, budget_seconds: float,
                max_epochs: int, min_epochs: int = 3) -> Plan:
    """The most epochs (between ``min_epochs`` and ``max_epochs``) whose training and validation
    fit in :data:`BUDGET_SHARE` of ``budget_seconds`` (the rest covers reading images, saving and the report)."""
    epoch_seconds = step_seconds * steps_per_epoch + val_seconds
    fit = math.floor(BUDGET_SHARE * budget_seconds / max(epoch_seconds, 1e-6))
    return Plan(max(min_epochs, min(max_epochs, fit)), step_seconds, epoch_seconds, budget_seconds, fit)


def planned_epochs(path: Path, resume_from: Path | None, system, train_loader, val_loader, budget: float,
                   max_epochs: int) -> dict:
    """``{"epochs", "describe"}``: the epochs that fit ``budget`` seconds, measured now and kept
    in ``path``, or (resuming from the checkpoint ``resume_from``) read from ``path`` as the
    interrupted run planned them, or from the checkpoint's copy where ``path`` was deleted."""
    if resume_from is not None and path.is_file():
        return json.loads(path.read_text())
    if resume_from is not None:  # deleted: the checkpoint keeps a copy (the recorder's state)
        kept = _schedule_in_checkpoint(resume_from)
        if kept is None:
            raise DataError(f"{path} is missing and {resume_from} holds no copy of the run's schedule "
                            f"(unreadable, or written by an older captcha-ocr); start the run again without --resume")
        return _keep_plan(path, kept["epochs"], kept["describe"])
    step, val_seconds = measure_step_seconds(system, train_loader, val_loader)
    plan = plan_epochs(step, len(train_loader), val_seconds, budget, max_epochs)
    return _keep_plan(path, plan.epochs, plan.describe())


def _schedule_in_checkpoint(checkpoint: Path) -> dict | None:
    """The ``{"epochs", "describe"}`` a run's ``last.ckpt`` keeps (in its recorder's state), or None."""
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    except Exception:  # unreadable: check_resumable says so
        return None
    callbacks = state.get("callbacks", {}) if isinstance(state, dict) else {}
    return next((v["schedule"] for v in callbacks.values() if isinstance(v, dict) and v.get("schedule")), None)


def _keep_plan(path: Path, epochs: int, describe: str) -> dict:
    """Write ``{"epochs", "describe"}`` to ``path`` (the schedule a resumed run reads) and return it."""
    data = {"epochs": epochs, "describe": describe}
    write_atomic(path, lambda fh: fh.write(json.dumps(data).encode()))
    return data


class ResizableOneCycleLR(torch.optim.lr_scheduler.OneCycleLR):
    """:class:`torch.optim.lr_scheduler.OneCycleLR` (two phases) whose length can change during the run."""

    def resize(self, total_steps: int) -> bool:
        """Make the cycle ``total_steps`` long: while warming up, keeping the share spent warming up;
        past the warm-up, by stretching or shrinking the cool-down that is left (the learning rate
        then moves to where the new cool-down puts it). Returns False (and changes nothing) when this
        torch's OneCycleLR is not laid out as expected."""
        phases = getattr(self, "_schedule_phases", None)
        if not isinstance(phases, list) or len(phases) != 2 or not all("end_step" in p for p in phases):
            return False
        warming = self.last_epoch < phases[0]["end_step"]
        warm_share = (phases[0]["end_step"] + 1) / self.total_steps
        total_steps = max(int(total_steps), self.last_epoch + 2, 16)
        self.total_steps = total_steps
        if warming:
            phases[0]["end_step"] = float(warm_share * total_steps) - 1
        phases[1]["end_step"] = total_steps - 1
        return True


class Replan(Callback):
    """After :data:`REPLAN_AFTER` epochs, and again at :data:`REPLAN_CHECKS` of the planned epochs,
    fit the rest of the schedule to what the latest epochs took.

    ``elapsed()`` gives the run's training seconds so far (the clock the budget is judged by). An
    epoch's cost is the median of the latest :data:`REPLAN_AFTER` epochs' durations, so one epoch
    slowed by something else on the machine does not shrink the whole schedule, and the epochs
    still to come fill the budget that is left. The new epoch count keeps the plan's bounds; it is
    written to ``path`` (the schedule a resumed run reads), passed to ``on_change`` (which updates
    what else records the epoch count) and announced through ``print_fn``. Put it before the callback
    that writes the checkpoint, so the checkpoint of that epoch holds the re-planned schedule.
    """

    def __init__(self, budget_seconds: float, planned: int, max_epochs: int, elapsed: Callable[[], float],
                 path: Path, on_change: Callable[[int], None], print_fn: Callable[[str], None] = print) -> None:
        self.budget, self.planned, self.max_epochs = budget_seconds, planned, max_epochs
        self.elapsed, self.path, self.on_change, self.print_fn = elapsed, path, on_change, print_fn
        self.done = planned <= 2 * REPLAN_AFTER  # too short a run to learn from its first epochs
        self.checks = list(REPLAN_CHECKS)  # the later looks still to come
        self.marks: dict[int, float] = {0: 0.0}  # epoch -> elapsed() at its end

    def _due(self, epoch: int) -> bool:
        """Whether the schedule is timed at the end of ``epoch`` (pops the later look it reaches)."""
        if epoch == REPLAN_AFTER:
            return True
        if epoch > REPLAN_AFTER and self.checks and epoch >= self.checks[0] * self.planned:
            self.checks.pop(0)
            return epoch + REPLAN_AFTER < self.planned  # not in the last few epochs
        return False

    def on_train_epoch_end(self, trainer, system) -> None:
        epoch = trainer.current_epoch + 1
        if self.done or trainer.sanity_checking:
            return
        self.marks[epoch] = spent = self.elapsed()
        if not self._due(epoch):
            return
        self.done = not self.checks
        durations = [self.marks[e] - self.marks[e - 1] for e in range(epoch - REPLAN_AFTER + 1, epoch + 1)
                     if e in self.marks and e - 1 in self.marks]
        per_epoch = statistics.median(durations) if durations else spent / epoch
        # the same fit as the first plan over the budget that is left; at least one more epoch
        left = plan_epochs(per_epoch, 1, 0.0, self.budget - spent / BUDGET_SHARE, self.max_epochs, min_epochs=0)
        epochs = max(epoch + 1, min(self.max_epochs, epoch + left.epochs))
        # a plan that would run past the budget is always cut; a longer one only past REPLAN_TOLERANCE
        if self.planned <= epochs <= self.planned * (1 + REPLAN_TOLERANCE):
            return
        schedulers = [c.scheduler for c in trainer.lr_scheduler_configs]
        if not schedulers or not all(isinstance(s, ResizableOneCycleLR) for s in schedulers):
            return
        if not all(s.resize(epochs * trainer.num_training_batches) for s in schedulers):
            return
        trainer.fit_loop.max_epochs = epochs
        describe = (f"schedule re-planned after {epoch} epochs: {epochs} epochs instead of {self.planned} "
                    f"(an epoch took {per_epoch:.1f} s)")
        self.planned = epochs
        _keep_plan(self.path, epochs, describe)
        self.on_change(epochs)
        self.print_fn(describe)
