"""Training with PyTorch Lightning: CTC loss, optimiser and schedule, metrics, best-model saving.

``train(TrainRequest(...))`` reads the data, builds the preset's model, fits it and writes into
the run folder: ``model.pt`` (best validation accuracy so far, written atomically whenever it
improves), ``metrics.csv`` (one row per epoch), ``curves.png`` (losses, validation accuracy and
CER, learning rate; redrawn each epoch when matplotlib is installed) and, after training,
``errors.png`` and ``confusions.csv`` (the best model's wrong validation readings, see
:mod:`captcha_ocr.report`). ``TrainRequest.init`` starts from another model's weights.

While training runs, ``last.ckpt`` (a Lightning checkpoint: weights, optimiser, schedule and the
run's history, written atomically after every epoch) lets an interrupted run continue where it
stopped (``TrainRequest.resume`` / ``captcha-ocr train --resume``); it is deleted when the run
finishes. A resumed run gives the same kind of result, not bit-identical numbers (the shuffling
and augmentation random streams restart).
"""

from __future__ import annotations

import csv
import logging
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback, EarlyStopping, TQDMProgressBar

from . import __version__
from .augment import albumentations_pipeline, augment_batch, check_level, is_batch_level
from .bundle import Bundle, ModelFileError, clean_state_dict, load_bundle, save_bundle
from .charset import Charset
from .dataset import LabelledImages, TorchDataset, check_labels, collate
from .decode import Decoded, greedy_decode
from .errors import DataError
from .images import Preprocess, auto_image_size, read_images
from .metrics import character_error_rate, sequence_accuracy
from .model import CRNN, ModelConfig, Preset, TrainConfig, build_model, count_parameters, get_preset
from .samples import Sample, find_samples, split_samples

log = logging.getLogger("captcha_ocr")


@dataclass
class TrainRequest:
    """What to train on and how; ``None`` fields take the preset's value."""

    data: str | list[Sample]
    out: str
    preset: str = "default"
    val_dir: str | None = None
    val_fraction: float | None = None
    seed: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    augment: str | None = None
    height: int | None = None
    width: int | None = None
    max_minutes: float | None = None
    patience: int | None = None
    accelerator: str = "auto"
    devices: int | str = 1
    precision: str | None = None
    progress: bool = True
    val_samples: list[Sample] | None = None  # explicit validation samples (bench folds)
    init: str | None = None  # model file to start from (fine-tuning); its image size is the default
    report: bool = True  # curves.png each epoch, errors.png + confusions.csv at the end
    label_pattern: str | None = None  # regex picking the label out of file stems (see find_samples)
    resume: bool = False  # continue the interrupted run in ``out`` from its last.ckpt
    callbacks: list = field(default_factory=list)  # extra Lightning callbacks


@dataclass
class TrainResult:
    model_path: Path
    metrics_path: Path
    best_epoch: int
    best_val_accuracy: float | None
    best_val_cer: float | None
    epochs_run: int
    seconds: float  # wall time of this call
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    run_seconds: float = 0.0  # training time of the whole run, across resumes


class CTCSystem(L.LightningModule):
    """Loss, optimiser, schedule and validation metrics around a :class:`CRNN`."""

    def __init__(self, config: ModelConfig, charset: Charset, preprocess: Preprocess, train_config: TrainConfig):
        super().__init__()
        self.model = CRNN(config)
        self.charset = charset
        self.preprocess = preprocess
        self.tc = train_config
        self.ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
        self.val_labels: list[str] = []
        self._val_preds: list[str] = []
        self._val_losses: list[tuple[float, int]] = []
        self._train_losses: list[tuple[float, int]] = []
        self.epoch_metrics: dict[str, float] = {}

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        images, targets, lengths, indices = batch
        x = self.preprocess.normalize(images)
        if self.training and is_batch_level(self.tc.augment):  # albu-* levels run in the dataset
            x = augment_batch(x, self.tc.augment)
        return x, targets, lengths, indices

    def _loss(self, logits: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        log_probs = F.log_softmax(logits.float(), dim=-1).transpose(0, 1)  # [T, B, K]
        t = torch.full((logits.shape[0],), logits.shape[1], dtype=torch.long)
        flat = torch.cat([targets[i, : lengths[i]] for i in range(len(lengths))])
        return self.ctc(log_probs, flat.cpu(), t, lengths.cpu())

    def training_step(self, batch, batch_idx: int):
        x, targets, lengths, _ = batch
        loss = self._loss(self(x), targets, lengths)
        self._train_losses.append((loss.item(), len(lengths)))
        return loss

    def validation_step(self, batch, batch_idx: int):
        x, targets, lengths, indices = batch
        logits = self(x)
        self._val_losses.append((self._loss(logits, targets, lengths).item(), len(lengths)))
        self._val_preds.extend(d.text for d in greedy_decode(logits, self.charset))

    def on_validation_epoch_start(self) -> None:
        self._val_preds, self._val_losses = [], []

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking or not self._val_losses:
            return
        truths = self.val_labels[: len(self._val_preds)]
        self.epoch_metrics.update(
            val_loss=_mean(self._val_losses),
            val_accuracy=sequence_accuracy(truths, self._val_preds),
            val_cer=character_error_rate(truths, self._val_preds),
        )
        self.log("val_accuracy", self.epoch_metrics["val_accuracy"], prog_bar=True)
        self.log("val_loss", self.epoch_metrics["val_loss"], prog_bar=True)

    def on_train_epoch_start(self) -> None:
        self._train_losses = []

    def configure_optimizers(self):
        tc = self.tc
        if tc.optimizer == "adam":
            opt = torch.optim.Adam(self.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
        elif tc.optimizer == "adamw":
            opt = torch.optim.AdamW(self.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
        else:
            raise ValueError(f"unknown optimizer {tc.optimizer!r}")
        if tc.scheduler == "onecycle":
            # (at least 16 steps: one-cycle divides by its phase lengths, which a tiny run makes 0)
            sched = torch.optim.lr_scheduler.OneCycleLR(
                opt, max_lr=tc.lr, total_steps=max(16, int(self.trainer.estimated_stepping_batches)), pct_start=0.25
            )
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
        if tc.scheduler == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, factor=tc.plateau_factor, patience=tc.plateau_patience
            )
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val_loss", "interval": "epoch"}}
        return opt


def _mean(pairs: list[tuple[float, int]]) -> float:
    total = sum(n for _, n in pairs)
    return sum(v * n for v, n in pairs) / total if total else float("nan")


class RunRecorder(Callback):
    """Writes ``metrics.csv`` (and ``curves.png``) each epoch, prints a summary line, keeps and
    saves the best model, and writes ``last.ckpt`` to resume from. Its history travels in that
    checkpoint (``state_dict``), so a resumed run continues the same ``metrics.csv``."""

    COLUMNS = ["epoch", "train_loss", "val_loss", "val_accuracy", "val_cer", "lr", "seconds"]

    def __init__(self, out: Path, make_bundle, has_val: bool, print_fn=print, curves: bool = True,
                 fingerprint: str = "") -> None:
        self.out = out
        self.metrics_path = out / "metrics.csv"
        self.model_path = out / "model.pt"
        self.checkpoint_path = out / "last.ckpt"
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
        self._write_csv_header()

    def _write_csv_header(self) -> None:
        with open(self.metrics_path, "w", newline="") as fh:
            csv.writer(fh).writerow(self.COLUMNS)

    def _append_csv(self, row: list) -> None:
        with open(self.metrics_path, "a", newline="") as fh:
            csv.writer(fh).writerow(["" if v is None else (f"{v:.6g}" if isinstance(v, float) else v) for v in row])

    def state_dict(self) -> dict:
        return {"rows": self.rows, "best_key": self.best_key, "best_epoch": self.best_epoch,
                "best_metrics": self.best_metrics, "elapsed": time.perf_counter() - self.start,
                "fingerprint": self.fingerprint}

    def load_state_dict(self, state: dict) -> None:
        if state.get("fingerprint") != self.fingerprint:
            raise DataError(
                f"{self.checkpoint_path}: the interrupted run trained on other data or settings "
                f"({state.get('fingerprint')}) than this one ({self.fingerprint}); resume with the same "
                f"arguments, or start a new run without --resume"
            )
        self.rows = list(state["rows"])
        self.best_key = tuple(state["best_key"]) if state["best_key"] is not None else None
        self.best_epoch, self.best_metrics = state["best_epoch"], dict(state["best_metrics"])
        self.start = time.perf_counter() - state["elapsed"]
        self._write_csv_header()
        for r in self.rows:
            self._append_csv([r[c] for c in self.COLUMNS])

    def on_train_epoch_end(self, trainer: L.Trainer, system: CTCSystem) -> None:
        if trainer.sanity_checking:
            return
        m = dict(system.epoch_metrics, train_loss=_mean(system._train_losses))
        epoch = trainer.current_epoch + 1
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        row = [epoch, m.get("train_loss"), m.get("val_loss"), m.get("val_accuracy"), m.get("val_cer"), lr,
               round(time.perf_counter() - self.start, 2)]
        self._append_csv(row)
        self.rows.append(dict(zip(self.COLUMNS, row)))
        if self.curves_path is not None and trainer.is_global_zero:
            self._draw_curves()
        if self.has_val:
            key = (m.get("val_accuracy", 0.0), -m.get("val_loss", float("inf")))
            msg = (f"epoch {epoch}: train_loss {m.get('train_loss', float('nan')):.4f}  val_loss "
                   f"{m.get('val_loss', float('nan')):.4f}  val_acc {m.get('val_accuracy', 0):.2%}  "
                   f"val_cer {m.get('val_cer', 0):.4f}")
        else:
            key = (float(epoch), 0.0)  # no validation: the latest model is the best we know
            msg = f"epoch {epoch}: train_loss {m.get('train_loss', float('nan')):.4f}"
        if self.best_key is None or key > self.best_key:
            self.best_key, self.best_epoch, self.best_metrics = key, epoch, m
            save_bundle(self.make_bundle(system, epoch, m), self.model_path)
            msg += "  (saved)"
        self.print(msg)
        trainer.save_checkpoint(self.checkpoint_path, weights_only=False)  # atomic: temp file, then move

    def _draw_curves(self) -> None:
        from .plots import save_curves

        try:
            save_curves(self.rows, self.curves_path)
        except ImportError:
            self.print("warning: matplotlib is not installed, so no curves.png (pip install 'captcha-ocr[plots]')")
            self.curves_path = None
        except Exception as exc:  # a plotting problem must never stop training
            self.print(f"warning: could not draw curves.png ({type(exc).__name__}: {exc}); not trying again")
            self.curves_path = None


def init_weights(model: CRNN, charset: Charset, source: Bundle, name: str = "init model") -> str:
    """Copy ``source``'s weights into ``model`` (fine-tuning); returns what was copied, in words.

    The architectures must match (every weight the same shape; image width, and height where
    the feature map keeps its size, may differ). With the same charset every weight is copied;
    otherwise everything but the classifier, whose rows (weight ``[K, 2H]`` and bias ``[K]``)
    are copied for the blank and each character both charsets hold; new characters keep their
    fresh initialisation. Raises :class:`~captcha_ocr.bundle.ModelFileError` on a mismatch.
    """
    head = f"head.{len(model.head) - 1}"
    head_keys = (f"{head}.weight", f"{head}.bias")
    target, src = model.state_dict(), source.state_dict
    problems = [f"{k} missing" for k in target if k not in src]
    problems += [f"{k} not in this model" for k in src if k not in target]
    problems += [
        f"{k} {tuple(src[k].shape)} vs {tuple(v.shape)}"
        for k, v in target.items()
        if k in src and src[k].shape != v.shape and not (k in head_keys and src[k].shape[1:] == v.shape[1:])
    ]
    if problems:
        raise ModelFileError(
            f"{name}: its architecture differs from this run's model ({'; '.join(problems[:4])}"
            f"{'; ...' if len(problems) > 4 else ''}); use the same preset and input height"
        )
    if source.charset == charset:
        model.load_state_dict(src)
        return "all weights (same charset)"
    new = {k: (v if k in head_keys else src[k]) for k, v in target.items()}
    rows = [(0, 0)] + [(i + 1, source.charset.chars.index(c) + 1) for i, c in enumerate(charset.chars)
                       if c in source.charset]
    dst_rows = torch.tensor([r for r, _ in rows])
    src_rows = torch.tensor([r for _, r in rows])
    for key in head_keys:
        new[key] = target[key].clone()
        new[key][dst_rows] = src[key][src_rows].to(new[key].dtype)
    model.load_state_dict(new)
    fresh = [c for c in charset.chars if c not in source.charset]
    dropped = [c for c in source.charset.chars if c not in charset]
    return (f"all weights but the classifier, whose rows for {len(rows) - 1} of {len(charset)} characters "
            f"and the blank were copied" + (f"; new characters {fresh} start fresh" if fresh else "")
            + (f"; {dropped} dropped" if dropped else ""))


def predict_arrays(model: torch.nn.Module, images, preprocess: Preprocess, charset: Charset,
                   batch_size: int = 256) -> list[Decoded]:
    """Greedy readings, with confidences, of resized uint8 images ``[N, C, H, W]`` (numpy)."""
    model.eval()
    out: list[Decoded] = []
    with torch.inference_mode():
        for i in range(0, len(images), batch_size):
            x = preprocess.normalize(torch.from_numpy(images[i : i + batch_size]))
            out.extend(greedy_decode(model(x), charset))
    return out


def write_run_report(out: Path, model_path: Path, val: LabelledImages) -> list[Path]:
    """``errors.png`` and ``confusions.csv`` for the saved (best) model on the validation images."""
    from .report import write_report

    bundle = load_bundle(model_path)
    decoded = predict_arrays(bundle.build_model(), val.images, bundle.preprocess, bundle.charset)
    return write_report(out, val.labels, [d.text for d in decoded], [d.confidence for d in decoded],
                        lambda i: val.images[i], val.paths)


def _pick_accelerator(name: str) -> str:
    if name == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    return name


def prepare_data(req: TrainRequest, preset: Preset, print_fn=print):
    """Samples -> (train, val) LabelledImages, charset and preprocessing. Bad files are skipped
    and reported; unusable labels raise :class:`DataError` naming the files."""
    samples = req.data if isinstance(req.data, list) else find_samples(req.data, req.label_pattern)
    images, report = read_images(samples, progress=req.progress, desc="reading training images")
    skipped = list(report.skipped)
    if not report.samples:
        raise DataError(f"{req.data}: none of the {len(samples)} images could be read")
    by_path = dict(zip([s.path for s in report.samples], images))
    if req.val_samples is not None or req.val_dir:
        val_list = req.val_samples if req.val_samples is not None else find_samples(req.val_dir, req.label_pattern)
        val_images, val_report = read_images(val_list, progress=req.progress, desc="reading validation images")
        skipped += val_report.skipped
        train_s, val_s = report.samples, val_report.samples
        val_by_path = dict(zip([s.path for s in val_s], val_images))
    else:
        frac = preset.train.val_fraction if req.val_fraction is None else req.val_fraction
        train_s, val_s = split_samples(report.samples, frac, preset.train.seed if req.seed is None else req.seed)
        val_by_path = by_path
    if not train_s:
        raise DataError(f"{req.data}: no training images left after the validation split")

    if req.height or req.width or preset.image_size is None:
        auto_h, auto_w = auto_image_size([by_path[s.path].size for s in train_s])
        base_h, base_w = preset.image_size or (auto_h, auto_w)
        height, width = req.height or base_h, req.width or base_w
    else:
        height, width = preset.image_size
    preprocess = Preprocess(height, width, preset.channels, preset.mean, preset.std, preset.alpha)
    charset = Charset.from_labels([s.label for s in train_s + val_s if s.label])
    probe = replace(preset.model, num_classes=charset.num_classes, height=height, width=width)
    check_labels(train_s + val_s, probe.time_steps)
    missing = sorted(set("".join(s.label for s in val_s)) - set("".join(s.label for s in train_s)))
    if missing:
        print_fn(f"warning: characters {missing} appear only in the validation data; the model cannot learn them")
    train = LabelledImages.from_samples(train_s, preprocess, [by_path[s.path] for s in train_s])[0]
    val = LabelledImages.from_samples(val_s, preprocess, [val_by_path[s.path] for s in val_s])[0]
    return train, val, charset, preprocess, skipped


def train(req: TrainRequest, print_fn=print) -> TrainResult:
    """Fit a model as ``req`` says; returns where the model and metrics were written."""
    t0 = time.perf_counter()
    preset = get_preset(req.preset)
    tc = preset.train
    overrides = {
        k: v
        for k, v in dict(epochs=req.epochs, batch_size=req.batch_size, lr=req.lr, augment=req.augment,
                         seed=req.seed, val_fraction=req.val_fraction).items()
        if v is not None
    }
    tc = replace(tc, **overrides)
    preset = replace(preset, train=tc)
    check_level(tc.augment)
    try:
        transform = albumentations_pipeline(tc.augment, tc.seed) if tc.augment.startswith("albu-") else None
    except ImportError as exc:  # an option the user chose needs an optional package
        raise ValueError(str(exc)) from None
    init = load_bundle(req.init) if req.init else None
    if init is not None and not (req.height or req.width):
        preset = replace(preset, image_size=(init.preprocess.height, init.preprocess.width))
    L.seed_everything(tc.seed, workers=True, verbose=False)
    out = Path(req.out)
    resume_from = out / "last.ckpt"
    if req.resume and not resume_from.is_file():
        raise DataError(f"{out}: no interrupted run to resume (no last.ckpt there); start it without --resume")
    if not req.resume and resume_from.is_file():
        print_fn(f"note: {out} holds an interrupted run (last.ckpt); this new run replaces it "
                 f"(--resume would have continued it)")
    out.mkdir(parents=True, exist_ok=True)

    train_data, val_data, charset, preprocess, skipped = prepare_data(req, preset, print_fn)
    for path, why in skipped:
        print_fn(f"skipped {why}" if str(path) in why else f"skipped {path}: {why}")
    model, config = build_model(preset, charset.num_classes, preprocess.height, preprocess.width)
    system = CTCSystem(config, charset, preprocess, tc)
    system.val_labels = val_data.labels
    if init is not None:
        print_fn(f"initialised from {req.init}: {init_weights(system.model, charset, init, str(req.init))}")
    lengths = sorted({len(label) for label in train_data.labels})
    print_fn(
        f"{len(train_data)} training / {len(val_data)} validation images, {len(charset)} characters, "
        f"input {preprocess.height}x{preprocess.width}x{preprocess.channels}, T={config.time_steps}, "
        f"{count_parameters(system.model):,} parameters, preset {preset.name}"
    )

    def make_bundle(sys_: CTCSystem, epoch: int, metrics: dict) -> Bundle:
        return Bundle(
            config=config,
            charset=charset,
            preprocess=preprocess,
            state_dict=clean_state_dict(sys_.model),
            lengths=lengths,
            provenance={
                "captcha_ocr_version": __version__,
                "torch_version": str(torch.__version__),
                "preset": preset.name,
                "train_config": tc.to_dict(),
                "data": str(req.data) if not isinstance(req.data, list) else f"{len(req.data)} samples",
                "val_data": req.val_dir or f"{tc.val_fraction:.0%} split, seed {tc.seed}",
                **({"init": str(req.init)} if req.init else {}),
                "train_images": len(train_data),
                "val_images": len(val_data),
                "epoch": epoch,
                "metrics": {k: float(v) for k, v in metrics.items()},
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )

    g = torch.Generator().manual_seed(tc.seed)
    train_loader = torch.utils.data.DataLoader(
        TorchDataset(train_data, charset, transform), batch_size=tc.batch_size, shuffle=True, collate_fn=collate,
        generator=g, drop_last=len(train_data) > tc.batch_size,
    )
    val_loader = (
        torch.utils.data.DataLoader(TorchDataset(val_data, charset), batch_size=256, shuffle=False, collate_fn=collate)
        if len(val_data)
        else None
    )
    fingerprint = (f"preset {preset.name}, {len(train_data)} train / {len(val_data)} val images, charset "
                   f"{''.join(charset.chars)!r}, input {preprocess.height}x{preprocess.width}, {tc.epochs} epochs")
    recorder = RunRecorder(out, make_bundle, has_val=val_loader is not None, print_fn=print_fn, curves=req.report,
                           fingerprint=fingerprint)
    if req.resume:
        print_fn(f"resuming from {resume_from}")
    callbacks: list[Callback] = [recorder, *req.callbacks]
    if req.progress:
        callbacks.append(TQDMProgressBar(refresh_rate=max(1, len(train_loader) // 20)))
    if req.patience and val_loader is not None:
        callbacks.append(EarlyStopping("val_accuracy", mode="max", patience=req.patience))
    accelerator = _pick_accelerator(req.accelerator)
    precision = req.precision or ("bf16-mixed" if accelerator == "gpu" else "32-true")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        warnings.filterwarnings("ignore", ".*LeafSpec.*")
        for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda"):
            logging.getLogger(name).setLevel(logging.WARNING)
        trainer = L.Trainer(
            max_epochs=tc.epochs,
            max_time={"minutes": req.max_minutes} if req.max_minutes else None,
            accelerator=accelerator,
            devices=req.devices,
            precision=precision,
            gradient_clip_val=tc.grad_clip or None,
            callbacks=callbacks,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=req.progress,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            deterministic=False,
            default_root_dir=str(out),
        )
        trainer.fit(system, train_loader, val_loader, ckpt_path=str(resume_from) if req.resume else None,
                    weights_only=False)
    if not trainer.interrupted:
        resume_from.unlink(missing_ok=True)
    if req.report and len(val_data) and recorder.model_path.is_file() and trainer.is_global_zero:
        write_run_report(out, recorder.model_path, val_data)
    best = recorder.best_metrics
    return TrainResult(
        model_path=recorder.model_path,
        metrics_path=recorder.metrics_path,
        best_epoch=recorder.best_epoch,
        best_val_accuracy=best.get("val_accuracy"),
        best_val_cer=best.get("val_cer"),
        epochs_run=trainer.current_epoch,
        seconds=time.perf_counter() - t0,
        skipped=skipped,
        run_seconds=float(recorder.rows[-1]["seconds"]) if recorder.rows else 0.0,
    )


__all__ = ["TrainRequest", "TrainResult", "train", "CTCSystem", "prepare_data", "init_weights",
           "predict_arrays", "write_run_report"]
