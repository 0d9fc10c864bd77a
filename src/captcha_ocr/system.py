"""The Lightning side of a CRNN: CTC loss, optimiser and schedule, validation metrics.

:class:`CTCSystem` wraps the one :class:`~captcha_ocr.model.CRNN` a run trains. Under
multi-process training (DDP) each process sees a shard of every batch; the validation
readings are gathered from all processes and matched to their labels by sample index, so
every process computes the same metrics over the whole validation set (and so agrees on the
best epoch, early stopping and the plateau schedule).
"""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F

from .augment import augment_batch, is_batch_level
from .charset import Charset
from .config import ModelConfig, TrainConfig
from .decode import greedy_decode, in_typed_order, within_lengths
from .images import Preprocess
from .metrics import character_error_rate, sequence_accuracy
from .model import CRNN
from .schedule import ResizableOneCycleLR


def all_gather_objects(obj) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` across the processes of a distributed run (every
    process must call it); ``[obj]`` when not distributed."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [obj]
    out: list = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


class CTCSystem(L.LightningModule):
    """Loss, optimiser, schedule and validation metrics around a :class:`CRNN`.

    ``val_labels`` are the validation labels by dataset index; after each validation epoch
    ``epoch_metrics`` holds ``val_loss``, ``val_accuracy`` and ``val_cer`` over all of them, of
    the readings the saved model will give: constrained to ``decode_lengths`` (every length from the
    shortest to the longest training label) where those are set, else greedy. ``greedy_cer`` is the
    greedy readings' CER, which says whether the model has left the all-blank start (a reading
    forced to a length is never blank, so the constrained CER cannot say it).
    """

    def __init__(self, config: ModelConfig, charset: Charset, preprocess: Preprocess, train_config: TrainConfig):
        super().__init__()
        self.model = CRNN(config)
        self.charset = charset
        self.preprocess = preprocess
        self.tc = train_config
        self.ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True, reduction="none")
        self.val_labels: list[str] = []
        self.decode_lengths: tuple[int, ...] = ()  # the lengths validation readings are constrained to
        # the convolutional layers' learning rate as a multiple of the rest's (TrainConfig.finetune_cnn_lr
        # when the run starts from another model's weights)
        self.cnn_lr_scale = 1.0
        # (dataset index, reading, greedy reading, loss) of this process
        self._val_rows: list[tuple[int, str, str, float]] = []
        self._train_losses: list[tuple[float, int]] = []
        self.epoch_metrics: dict[str, float] = {}
        # off at first with ``augment_warmup``: augmentation slows the escape from the all-blank start
        self.augment_active = not train_config.augment_warmup
        self.mixer = None  # a mixing.StripMixer, with TrainConfig.mix

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)

    def prepare_batch(self, batch, training: bool):
        """uint8 images ``[B, C, H, W]`` -> normalised float, augmented when ``training`` (and
        augmentation is on: with ``augment_warmup`` it waits until the model reads something)."""
        images, targets, lengths, indices = batch
        x = self.preprocess.normalize(images)
        if training and self.mixer is not None:
            x, targets = self.mixer.mix(x, targets, lengths, indices)
        if training and self.augment_active and is_batch_level(self.tc.augment):  # albu-* run in the dataset
            x = augment_batch(x, self.tc.augment)
        return x, targets, lengths, indices

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        return self.prepare_batch(batch, self.training)

    def losses(self, logits: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Per-sample CTC loss divided by the label length (what ``CTCLoss``'s mean averages)."""
        log_probs = F.log_softmax(logits.float(), dim=-1).transpose(0, 1)  # [T, B, K]
        t = torch.full((logits.shape[0],), logits.shape[1], dtype=torch.long)
        flat = torch.cat([targets[i, : lengths[i]] for i in range(len(lengths))])
        lengths = lengths.cpu()
        return self.ctc(log_probs, flat.cpu(), t, lengths) / lengths.clamp(min=1).to(log_probs.device)

    def training_step(self, batch, batch_idx: int):
        x, targets, lengths, _ = batch
        loss = self.losses(self(x), targets, lengths).mean()
        self._train_losses.append((loss.item(), len(lengths)))
        return loss

    def validation_step(self, batch, batch_idx: int):
        x, targets, lengths, indices = batch
        logits = self(x)
        losses = self.losses(logits, targets, lengths).tolist()
        self._val_rows.extend(zip(indices.tolist(), *self.readings(logits), losses))

    def readings(self, logits: torch.Tensor) -> tuple[list[str], list[str]]:
        """Logits ``[B, T, K]`` -> what the saved model reads (constrained to ``decode_lengths`` where
        set) and the greedy readings, one text per row each."""
        greedy = greedy_decode(logits, self.charset)
        read = within_lengths(greedy, logits, self.charset, self.decode_lengths) if self.decode_lengths else greedy
        return ([d.text for d in in_typed_order(read, self.charset)],
                [d.text for d in in_typed_order(greedy, self.charset)])

    def on_validation_epoch_start(self) -> None:
        self._val_rows = []

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        # Every process scores all the readings; the distributed sampler pads its shards with
        # repeats of the first samples, so each index is counted once.
        rows = {i: (text, greedy, loss) for part in all_gather_objects(self._val_rows)
                for i, text, greedy, loss in part}
        if not rows:
            return
        order = sorted(rows)
        truths = [self.val_labels[i] for i in order]
        preds = [rows[i][0] for i in order]
        self.epoch_metrics.update(
            val_loss=sum(rows[i][2] for i in order) / len(order),
            val_accuracy=sequence_accuracy(truths, preds),
            val_cer=character_error_rate(truths, preds),
            greedy_cer=character_error_rate(truths, [rows[i][1] for i in order]),
        )
        # the same value on every process; sync_dist only keeps Lightning from warning
        self.log("val_accuracy", self.epoch_metrics["val_accuracy"], prog_bar=True, sync_dist=True)
        self.log("val_loss", self.epoch_metrics["val_loss"], prog_bar=True, sync_dist=True)

    def on_train_epoch_start(self) -> None:
        self._train_losses = []

    def train_loss(self) -> float:
        """This epoch's mean training loss over every process's batches (all processes must call it)."""
        total = sum(v * n for v, n in self._train_losses)
        count = sum(n for _, n in self._train_losses)
        parts = all_gather_objects((total, count))
        count = sum(n for _, n in parts)
        return sum(v for v, _ in parts) / count if count else float("nan")

    def parameter_groups(self) -> list[dict]:
        """The optimiser's parameter groups: the convolutional layers at :attr:`cnn_lr_scale` times the
        learning rate, the rest at it (one group when the scale is 1)."""
        lr = self.tc.lr
        if self.cnn_lr_scale == 1.0:
            return [{"params": list(self.parameters()), "lr": lr}]
        cnn = list(self.model.cnn.parameters())
        ids = {id(p) for p in cnn}
        return [{"params": cnn, "lr": lr * self.cnn_lr_scale},
                {"params": [p for p in self.parameters() if id(p) not in ids], "lr": lr}]

    def configure_optimizers(self):
        tc = self.tc
        groups = self.parameter_groups()
        if tc.optimizer == "adam":
            opt = torch.optim.Adam(groups, lr=tc.lr, weight_decay=tc.weight_decay)
        elif tc.optimizer == "adamw":
            opt = torch.optim.AdamW(groups, lr=tc.lr, weight_decay=tc.weight_decay)
        else:
            raise ValueError(f"unknown optimizer {tc.optimizer!r}")
        if tc.scheduler == "onecycle":
            # (at least 16 steps: one-cycle divides by its phase lengths, which a tiny run makes 0)
            sched = ResizableOneCycleLR(
                opt, max_lr=[g["lr"] for g in groups],
                total_steps=max(16, int(self.trainer.estimated_stepping_batches)),
                pct_start=tc.warmup
            )
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
        if tc.scheduler == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, factor=tc.plateau_factor, patience=tc.plateau_patience
            )
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val_loss", "interval": "epoch"}}
        return opt
