"""A training schedule laid over a time budget, from the measured cost of a step.

A fixed epoch count costs two to three times more on bigger images; instead, before training,
:func:`measure_step_seconds` times a few real optimiser steps (and one validation batch) on a
throw-away copy of the network, and :func:`plan_epochs` fits as many epochs as the budget holds,
so the one-cycle learning-rate schedule runs its whole course within the budget.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .files import write_atomic


@dataclass(frozen=True)
class Plan:
    """How many epochs fit the budget, and the measurements behind it."""

    epochs: int
    step_seconds: float
    epoch_seconds: float
    budget_seconds: float

    def describe(self) -> str:
        return (f"schedule: {self.epochs} epochs to fit {self.budget_seconds / 60:.1f} minutes "
                f"(measured {self.step_seconds * 1000:.0f} ms a step, about {self.epoch_seconds:.1f} s an epoch)")


def measure_step_seconds(system, train_loader, val_loader=None, steps: int = 6) -> tuple[float, float]:
    """``(seconds per training step, seconds per validation pass)`` on a copy of ``system``'s
    network (its weights are not touched), with the run's own batches, preprocessing and
    augmentation. The first step is not timed (allocation, kernel selection)."""
    model = copy.deepcopy(system.model).train()
    was_active, system.augment_active = system.augment_active, True  # time the steps as they will be
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batches = iter(train_loader)
    times = []
    for i in range(steps + 1):
        try:
            batch = next(batches)
        except StopIteration:
            batches = iter(train_loader)
            batch = next(batches)
        start = time.perf_counter()
        x, targets, lengths, _ = system.prepare_batch(batch, training=True)
        loss = system.losses(model(x), targets, lengths).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
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
    fit in 92% of ``budget_seconds`` (the rest covers reading images, saving and the report)."""
    epoch_seconds = step_seconds * steps_per_epoch + val_seconds
    fit = math.floor(0.92 * budget_seconds / max(epoch_seconds, 1e-6))
    return Plan(max(min_epochs, min(max_epochs, fit)), step_seconds, epoch_seconds, budget_seconds)


def planned_epochs(path: Path, resume: bool, system, train_loader, val_loader, budget: float,
                   max_epochs: int) -> dict:
    """``{"epochs", "describe"}``: the epochs that fit ``budget`` seconds, measured now and kept
    in ``path``, or (resuming) read from ``path`` as the interrupted run planned them."""
    if resume and path.is_file():
        return json.loads(path.read_text())
    step, val_seconds = measure_step_seconds(system, train_loader, val_loader)
    plan = plan_epochs(step, len(train_loader), val_seconds, budget, max_epochs)
    data = {"epochs": plan.epochs, "describe": plan.describe()}
    write_atomic(path, lambda fh: fh.write(json.dumps(data).encode()))
    return data

