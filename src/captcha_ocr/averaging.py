"""An exponential moving average (EMA) of the model's weights while it trains (``TrainConfig.ema``).

Validation reads the averaged weights, and the model file of an epoch holds them; the optimiser
keeps stepping the raw ones. A resumed run continues the average from its checkpoint.
"""

from __future__ import annotations

import lightning as L
import torch


class WeightAverage(L.Callback):
    """Keeps ``average <- decay * average + (1 - decay) * weights`` after every optimiser step.

    ``span`` is the share of the run's optimiser steps that the average reaches back over (its time
    constant): ``decay = 1 - 1 / (span * steps)``. Early on the decay is lower,
    ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so the average does not drag the start.
    Integer buffers (BatchNorm's batch count) are copied, not averaged.
    """

    def __init__(self, span: float) -> None:
        if not 0 < span <= 1:
            raise ValueError(f"the weight average's span must be a share of the run in (0, 1], not {span}")
        self.span = span
        self.decay = 0.0
        self.updates = 0
        self.average: dict[str, torch.Tensor] = {}
        self._raw: dict[str, torch.Tensor] | None = None

    def on_fit_start(self, trainer: L.Trainer, system: L.LightningModule) -> None:
        steps = max(16, int(trainer.estimated_stepping_batches))
        self.decay = 1.0 - 1.0 / max(1.0, self.span * steps)
        weights = system.model.state_dict()
        if self.average:  # a resumed run's, from its checkpoint
            self.average = {k: v.to(weights[k].device) for k, v in self.average.items()}
        else:
            self.average = {k: v.detach().clone() for k, v in weights.items()}

    def on_train_batch_end(self, trainer, system, outputs, batch, batch_idx) -> None:
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        with torch.no_grad():
            for key, value in system.model.state_dict().items():
                if value.is_floating_point():
                    self.average[key].lerp_(value.detach(), 1.0 - decay)
                else:
                    self.average[key].copy_(value)
        self.updates += 1

    def on_validation_epoch_start(self, trainer, system) -> None:
        if self.average and trainer.state.fn == "fit":
            self._raw = {k: v.detach().clone() for k, v in system.model.state_dict().items()}
            system.model.load_state_dict(self.average)

    def on_validation_epoch_end(self, trainer, system) -> None:
        if self._raw is not None:
            system.model.load_state_dict(self._raw)
            self._raw = None

    def averaged_state(self) -> dict[str, torch.Tensor]:
        """A CPU copy of the averaged weights, keyed like ``model.state_dict()``."""
        return {k: v.detach().cpu().clone() for k, v in self.average.items()}

    def state_dict(self) -> dict:
        return {"average": self.average, "updates": self.updates}

    def load_state_dict(self, state_dict: dict) -> None:
        self.average = {k: v.clone() for k, v in state_dict["average"].items()}
        self.updates = int(state_dict["updates"])
