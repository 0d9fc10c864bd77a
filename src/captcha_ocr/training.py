"""``train(TrainRequest(...))``: read the data, build the preset's model, fit it with Lightning.

The run folder gets ``model.pt`` (best validation accuracy so far, written atomically whenever
it improves), ``metrics.csv`` (one row per epoch), ``curves.png`` (losses, validation accuracy
and CER, learning rate; redrawn at most every 20 s when matplotlib is installed) and, after training,
``errors.png``, ``confusions.csv`` and ``suspect_labels.csv`` (the best model's wrong validation
readings, see :mod:`captcha_ocr.report`). ``TrainRequest.init`` starts from another model's weights.

While training runs, ``last.ckpt`` (a Lightning checkpoint: weights, optimiser, schedule and the
run's history, written atomically after every epoch) lets an interrupted run continue where it
stopped (``TrainRequest.resume`` / ``captcha-ocr train --resume``); it is deleted when the run
finishes. A resumed run gives the same kind of result, not bit-identical numbers (the shuffling
and augmentation random streams restart).

The pieces live in their own modules: the data in :mod:`~captcha_ocr.dataset`, the loss,
optimiser and metrics in :mod:`~captcha_ocr.system`, the run folder in
:mod:`~captcha_ocr.recorder`, weight copying for ``init`` in :mod:`~captcha_ocr.finetune`, the
two rounds of ``unlabeled`` (self-training) in :mod:`~captcha_ocr.selftrain`.

A run with ``init`` keeps the init model's architecture, preprocessing and input height (the
network is convolutional along the width only, so the width is still chosen from the data, but
never narrower than the init model's: the general model was pretrained at 48x192, and fine-tunes
squeezed narrower read worse, see "The fine-tune's input width" in bench/RESULTS.md); the preset
gives the training recipe. ``init="general"`` starts from the general model shipped in the
package (:mod:`captcha_ocr.shipped`). With ``init`` left out a run starts where its preset says
(the default preset: the general model, unless ``height`` is given; the ``seed`` preset: random
weights); ``init="none"`` starts from random weights. The log says what a run started from.

Several devices (``devices``/``num_nodes``) train with DDP, one process per device: with
Lightning's own launcher every process runs this function from the start (the first one
starts the others inside ``fit``), so all of them read the data and build the model, and only
the first (``trainer.is_global_zero``) prints and writes files; the others return a
:class:`TrainResult` with ``is_global_zero`` false.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, Timer, TQDMProgressBar

from . import __version__
from .augment import albumentations_pipeline, check_level
from .averaging import WeightAverage
from .bundle import Bundle, clean_state_dict, load_bundle
from .config import BATCH_SIZE_RULE, Preset, TrainConfig, get_preset
from .dataset import LabelledImages, TorchDataset, collate, prepare_data
from .decode import length_range
from .devices import pick_accelerator, strategy
from .errors import DataError
from .finetune import init_weights
from .margins import start_crop
from .metrics import SUSPECT_CONFIDENCE
from .mixing import StripMixer
from .model import count_parameters
from .plateau import PlateauWatch, case_advice, diagnose
from .reading_order import paragraph_direction
from .recorder import REPORT_FILES, RunRecorder, write_run_report
from .samples import Sample
from .schedule import SCHEDULE_FILE, Replan, planned_epochs
from .shipped import SCRATCH, is_general
from .system import CTCSystem
from .zooms import ZoomChoice, describe_choice, start_zoom

# Under this many training images a run from scratch recommends the general model in its log: with
# 50 and 100 labels it was far better on every set measured (bench/fewshot.py, bench/RESULTS.md)
RECOMMEND_INIT_BELOW = 200


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
    ema: float | None = None  # span of the weight average (TrainConfig.ema); 0 = none
    mix: float | None = None  # share of images given another's character (TrainConfig.mix); 0 = none
    cnn_lr: float | None = None  # a fine-tune's convolutional layers' lr multiple (TrainConfig.finetune_cnn_lr)
    height: int | None = None
    width: int | None = None
    # vertical zoom of every image before resizing (Preprocess.zoom; > 1 gives small text more rows). None:
    # chosen from the labelled images when starting from the general model (zooms.choose_zoom), the start
    # model's own from any other, 1 from random weights
    zoom: float | None = None
    # the box of each image kept, (left, top, right, bottom) as fractions (Preprocess.crop; margins.FULL keeps
    # whole images). None: the start model's own when fine-tuning a trained model, else the box holding every
    # training image's content when that cuts off a fifth of the width or height (margins.choose_crop)
    crop: tuple[float, float, float, float] | None = None
    max_minutes: float | None = None
    patience: int | None = None
    accelerator: str = "auto"
    devices: int | str = 1  # per machine; more than one trains with DDP
    num_nodes: int = 1  # machines (see the README on going past one machine)
    precision: str | None = None
    progress: bool = True
    val_samples: list[Sample] | None = None  # explicit validation samples (bench folds)
    # model file (or "general") to start from: its architecture and input height are kept. None: the
    # preset's start (see start_point); "none": random weights
    init: str | None = None
    report: bool = True  # curves.png each epoch, errors.png + confusions.csv at the end
    label_pattern: str | None = None  # regex picking the label out of file stems (see find_samples)
    case: str = "keep"  # keep | fold | lower | upper: how labels are cased (see charset.Charset)
    label_order: str = "typed"  # typed | drawn: the order labels list characters in (charset.LABEL_ORDERS)
    resume: bool = False  # continue the interrupted run in ``out`` from its last.ckpt
    callbacks: list = field(default_factory=list)  # extra Lightning callbacks
    # self-training: a folder (or list) of unlabelled images of the same site; confident readings of
    # the first round's model become extra training data for a second round (see selftrain.py)
    unlabeled: str | list | None = None
    pseudo_threshold: float | None = None  # confidence a reading needs; None = selftrain.PSEUDO_LABEL_THRESHOLD
    self_training_rounds: int | None = None  # training rounds with ``unlabeled`` (>= 2); None = the preset's
    provenance: dict = field(default_factory=dict)  # extra entries for the model file's provenance


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
    # False in the other processes of a multi-process run: they should print nothing
    is_global_zero: bool = True
    stuck: bool = False  # stopped early: still reading nothing at the plateau check
    cut_short: bool = False  # the time limit stopped it before its planned (or given) epochs ended
    restarted: bool = False  # the first attempt was stuck; this result is the second's
    warnings: list[str] = field(default_factory=list)  # e.g. the run never learned to read (plateau.diagnose)
    train_images: int = 0  # labelled training images (pseudo-labelled ones not counted)
    val_images: int = 0  # validation images the accuracies are measured on
    pseudo_labels: int | None = None  # self-training: unlabelled images used with their confident readings
    right_to_left: bool = False  # the labels are in a right-to-left script (whatever order they were learned in)


def _resolve_preset(req: TrainRequest, init: Bundle | None) -> Preset:
    """The request's preset with its overrides applied; with an ``init`` model, its architecture and
    preprocessing (and no fixed input size: the height is the init model's, the width the data's)."""
    preset = get_preset(req.preset)
    overrides = {
        k: v
        for k, v in dict(epochs=req.epochs, batch_size=req.batch_size, lr=req.lr, augment=req.augment,
                         ema=req.ema, mix=req.mix, finetune_cnn_lr=req.cnn_lr, seed=req.seed,
                         val_fraction=req.val_fraction).items()
        if v is not None
    }
    preset = replace(preset, train=replace(preset.train, **overrides))
    return preset.starting_from(init) if init is not None else preset


def _log_zoom_choice(note: Callable[[str], None]) -> Callable[[ZoomChoice], None]:
    """``on_choice`` for :func:`~captcha_ocr.zooms.start_zoom`: the log line of the chosen zoom."""
    return lambda choice: note(
        f"input zoom {choice.zoom:g}x (the rows' middle {1 / choice.zoom:.0%}), from the start model's readings "
        f"of the training images: {describe_choice(choice)} (--zoom sets it)")


def start_point(req: TrainRequest, preset: Preset) -> tuple[str | None, str]:
    """The model a run starts from (``None``: random weights) and why, in words for the log."""
    if req.init == SCRATCH:
        return None, "--init none"
    if req.init:
        return req.init, "--init"
    if preset.init is None:
        return None, f"the {preset.name} preset starts from random weights"
    if req.height is not None:
        return None, f"--height {req.height} was given, and {preset.init} keeps its own input height"
    return preset.init, f"the {preset.name} preset starts from {preset.init}; --init none trains from random weights"


def _budget_seconds(req: TrainRequest, preset: Preset) -> float | None:
    """The time the schedule is planned over: ``--max-minutes``, else the preset's budget; none when
    the epochs are given, or when several processes train (each would measure its own)."""
    if req.epochs is not None or strategy(req.devices, req.num_nodes) == "ddp":
        return None
    minutes = req.max_minutes or preset.train.budget_minutes
    return minutes * 60 if minutes else None


# (TrainRequest field, option, least value, whether the least value itself is allowed)
_LEAST_VALUES = (("epochs", "--epochs", 1, True), ("batch_size", "--batch-size", 1, True), ("lr", "--lr", 0, False),
                 ("max_minutes", "--max-minutes", 0, False), ("patience", "--patience", 1, True),
                 ("height", "--height", 1, True), ("width", "--width", 1, True), ("zoom", "--zoom", 0, False))


def check_request(req: TrainRequest) -> None:
    """Refuse option values no run can use, before anything is read or written; raises ``ValueError``
    naming the option (an ``--epochs 0`` run would otherwise "finish" without writing a model)."""
    for name, option, least, inclusive in _LEAST_VALUES:
        value = getattr(req, name)
        if value is None:
            continue
        if value != value or (value < least if inclusive else value <= least):  # (NaN fails too)
            bound = f"at least {least}" if inclusive else f"more than {least}"
            raise ValueError(f"{option}: must be {bound}, got {value}")
    if req.val_fraction is not None and not 0.0 < req.val_fraction < 1.0:
        raise ValueError(f"--val-split: a fraction between 0 and 1, got {req.val_fraction}")
    if Path(req.out).is_file():
        raise ValueError(f"--out {req.out}: a file, not a folder; give the folder the run writes into")
    if isinstance(req.data, (str, Path)):
        out = Path(req.out).resolve()
        for option, folder in (("the data folder", req.data), ("--val-dir", req.val_dir)):
            if folder is not None and Path(folder).resolve() == out:
                raise ValueError(f"--out {req.out}: the run folder would be {option} (its plots would be read "
                                 f"as captchas); give another folder")


def train(req: TrainRequest, print_fn=print) -> TrainResult:
    """Fit a model as ``req`` says; returns where the model and metrics were written.

    A run still reading nothing at 30% of its planned schedule (:class:`~captcha_ocr.plateau.PlateauWatch`)
    is restarted once with another seed for the rest of the time budget; a run that ends without
    learning to read prints a warning with likely causes (``TrainResult.warnings``).
    """
    check_request(req)
    if req.unlabeled is None and (req.self_training_rounds is not None or req.pseudo_threshold is not None):
        what = "self-training rounds (--rounds)" if req.self_training_rounds is not None else "a pseudo-label threshold"
        raise ValueError(f"{what}: only with unlabelled images to read (--unlabeled)")
    if req.unlabeled is not None:
        from .selftrain import self_train

        return self_train(req, print_fn)
    t0 = time.perf_counter()
    base = get_preset(req.preset)
    budget = _budget_seconds(req, base)
    result = _train_once(req, print_fn, budget, restart_at=0.3 if budget else None)
    if result.stuck:
        seed = (req.seed if req.seed is not None else base.train.seed) + 1
        left = max(budget - (time.perf_counter() - t0), 30.0)  # what is left of the budget, at least 30 s
        print_fn(f"warning: still reading nothing after {result.epochs_run} epochs (validation CER "
                 f"{result.best_val_cer:.2f}): the run is stuck at the all-blank start; restarting with seed {seed} "
                 f"for {left / 60:.1f} minutes")
        result = _train_once(replace(req, seed=seed, resume=False), print_fn, left, restart_at=None)
        result.restarted = True
    if result.is_global_zero:
        result.warnings = diagnose(result.best_val_accuracy, result.best_val_cer, result.train_images,
                                   result.epochs_run, result.restarted, result.val_images,
                                   epochs_given=req.epochs is not None and not result.cut_short,
                                   report=req.report,
                                   label_order=req.label_order if result.right_to_left else None)
        for line in result.warnings:
            print_fn(line)
    result.seconds = time.perf_counter() - t0
    return result


def _train_once(req: TrainRequest, print_fn, budget: float | None, restart_at: float | None) -> TrainResult:
    """One attempt: data, model, (schedule planned over ``budget`` seconds), fit."""
    t0 = time.perf_counter()
    init_source, init_reason = start_point(req, get_preset(req.preset))
    init = load_bundle(init_source) if init_source else None
    preset = _resolve_preset(req, init)
    tc = preset.train
    check_level(tc.augment)
    averager = WeightAverage(tc.ema) if tc.ema else None  # (a bad span is refused before the data loads)
    if not 0.0 <= tc.mix <= 1.0:
        raise ValueError(f"--mix: a share of images from 0 to 1, got {tc.mix}")
    if not tc.finetune_cnn_lr > 0:
        raise ValueError(f"--cnn-lr: a positive multiple of the learning rate, got {tc.finetune_cnn_lr}")
    try:
        transform = albumentations_pipeline(tc.augment, tc.seed) if tc.augment.startswith("albu-") else None
    except ImportError as exc:  # an option the user chose needs an optional package
        raise ValueError(str(exc)) from None
    L.seed_everything(tc.seed, workers=True, verbose=False)
    out = Path(req.out)
    resume_from = out / "last.ckpt"
    if req.resume and not resume_from.is_file():
        raise DataError(f"{out}: no interrupted run to resume (no last.ckpt there); start it without --resume")
    notes: list[str] = []  # printed once the trainer knows which process this is
    if not req.resume and resume_from.is_file():
        notes.append(f"note: {out} holds an interrupted run (last.ckpt); this new run replaces it "
                     f"(--resume would have continued it)")
    out.mkdir(parents=True, exist_ok=True)
    if not req.resume:
        stale = [path for path in (out / name for name in REPORT_FILES) if path.is_file()]
        for path in stale:
            path.unlink()
        if stale:
            notes.append(f"note: removed the earlier run's {', '.join(p.name for p in stale)} from {out}")

    val = req.val_samples if req.val_samples is not None else (req.val_dir or None)
    height = req.height or (init.preprocess.height if init is not None else None)
    train_data, val_data, charset, preprocess, skipped = prepare_data(
        req.data, preset, val, height, req.width, req.label_pattern, req.progress, notes.append, req.case,
        start_size=(init.preprocess.height, init.preprocess.width) if init is not None else None,
        zoom=start_zoom(req.zoom, init, _log_zoom_choice(notes.append)), crop=start_crop(req.crop, init),
        start_chars=init.charset.chars if init is not None else (), label_order=req.label_order)
    notes += [f"skipped {why}" if str(path) in why else f"skipped {path}: {why}" for path, why in skipped]
    tc = tc.sized_for(len(train_data))  # the batch size, where the preset leaves it to the data
    config = preset.model_config(charset.num_classes, preprocess.height, preprocess.width)
    system = CTCSystem(config, charset, preprocess, tc)  # builds the run's one CRNN
    system.val_labels = val_data.labels
    lengths = sorted({len(label) for label in train_data.labels})
    system.decode_lengths = length_range(lengths)  # validation reads as the saved model will
    if init is not None:
        notes.append(f"initialised from {_describe_init(init_source, init)}: "
                     f"{init_weights(system.model, charset, init, str(init_source))}; its architecture and input "
                     f"height ({init.preprocess.height} px) kept"
                     + (f"; the convolutional layers learn at {tc.finetune_cnn_lr:g}x the learning rate"
                        if tc.finetune_cnn_lr != 1.0 else ""))
        system.cnn_lr_scale = tc.finetune_cnn_lr
        if req.init is None:
            notes.append(f"({init_reason})")
    else:
        advice = ("leave --height out to start from the shipped general model"
                  if req.height and req.init is None and preset.init else
                  "--init general starts from the shipped general model")
        if len(train_data) < RECOMMEND_INIT_BELOW:
            notes.append(f"initialised from scratch (random weights: {init_reason}). With only {len(train_data)} "
                         f"training images, starting from the general model reads far better ({advice}): see "
                         f"the few-shot table in bench/RESULTS.md")
        else:
            notes.append(f"initialised from scratch (random weights: {init_reason}; {advice})")
    notes.append(
        f"{len(train_data)} training / {len(val_data)} validation images, {len(charset)} characters, "
        f"input {preprocess.height}x{preprocess.width}x{preprocess.channels}"
        + (f" (rows zoomed {preprocess.zoom:g}x)" if preprocess.zoom != 1 else "") + f", T={config.time_steps}, "
        f"{count_parameters(system.model):,} parameters, preset {preset.name}, batch {tc.batch_size}"
        + (f" (from the number of training images: {BATCH_SIZE_RULE}; --batch-size sets it)"
           if preset.train.batch_size is None else "")
    )

    def make_bundle(sys_: CTCSystem, epoch: int, metrics: dict) -> Bundle:
        return Bundle(
            config=config,
            charset=charset,
            preprocess=preprocess,
            # the weights validation read: the average's, where there is one
            state_dict=averager.averaged_state() if averager else clean_state_dict(sys_.model),
            lengths=lengths,
            provenance={
                "captcha_ocr_version": __version__,
                "torch_version": str(torch.__version__),
                "preset": preset.name,
                "train_config": sys_.tc.to_dict(),
                "data": str(req.data) if not isinstance(req.data, list) else f"{len(req.data)} samples",
                "val_data": _val_source(req, tc),
                **({"init": str(init_source), "init_provenance": _init_summary(init)} if init is not None else {}),
                **req.provenance,
                "train_images": len(train_data),
                "val_images": len(val_data),
                "epoch": epoch,
                "metrics": {k: float(v) for k, v in metrics.items()},
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )

    g = torch.Generator().manual_seed(tc.seed)
    train_set = TorchDataset(train_data, charset, transform)
    # a budgeted run on a small set: several shuffled passes an epoch, so the time goes to training steps
    # rather than to each epoch's validation and checkpoint (an epoch given with --epochs stays one pass)
    passes = tc.passes_for(len(train_data)) if budget else 1
    sampler = torch.utils.data.RandomSampler(train_set, num_samples=passes * len(train_data), generator=g) \
        if passes > 1 else None
    train_loader = torch.utils.data.DataLoader(
        train_set, batch_size=tc.batch_size, shuffle=sampler is None, sampler=sampler, collate_fn=collate,
        generator=g if sampler is None else None, drop_last=len(train_data) > tc.batch_size,
    )
    if sampler is not None:
        notes.append(f"an epoch is {passes} passes over the {len(train_data)} training images ({len(sampler)} between "
                     f"validations: as many as fit in {tc.epoch_images}, so the time budget goes to training steps)")
    mixer = StripMixer(torch.from_numpy(train_data.images), train_data.labels, charset, tc.mix, tc.seed) \
        if tc.mix else None
    system.mixer = mixer
    val_loader = (
        torch.utils.data.DataLoader(TorchDataset(val_data, charset), batch_size=256, shuffle=False, collate_fn=collate)
        if len(val_data)
        else None
    )
    max_epochs = tc.epochs
    if budget:
        plan = planned_epochs(out / SCHEDULE_FILE, resume_from if req.resume else None, system, train_loader,
                              val_loader, budget, tc.epochs)
        tc = replace(tc, epochs=plan["epochs"])
        system.tc = tc
        notes.append(plan["describe"])
    watch = PlateauWatch(tc.epochs, restart_at if val_loader is not None and not req.resume else None)

    data_digest = _digest(train_data, val_data)

    def fingerprint(epochs: int) -> str:
        return (f"preset {preset.name}, {len(train_data)} train / {len(val_data)} val images (digest {data_digest}), "
                f"charset {''.join(charset.chars)!r}, input {preprocess.height}x{preprocess.width}, zoom "
                f"{preprocess.zoom:g}, crop {tuple(round(c, 4) for c in preprocess.crop)}, {epochs} epochs, batch "
                f"{tc.batch_size}, lr {tc.lr:g}, seed {tc.seed}, augment {tc.augment}, ema {tc.ema:g}, mix {tc.mix:g}")

    recorder = RunRecorder(out, make_bundle, has_val=val_loader is not None, print_fn=print_fn, curves=req.report,
                           fingerprint=fingerprint(tc.epochs))
    if req.resume:
        check_resumable(resume_from, len(system.parameter_groups()), recorder)
        notes.append(f"resuming from {resume_from}")
    callbacks: list[Callback] = [recorder, watch, *req.callbacks, *([averager] if averager else []),
                                 *([mixer] if mixer else [])]
    if budget and not req.resume:  # a resumed run keeps the (re-)planned schedule its checkpoint holds

        def replanned(epochs: int) -> None:
            system.tc = replace(system.tc, epochs=epochs)
            recorder.fingerprint = fingerprint(epochs)

        # before the recorder, whose checkpoint of that epoch then holds the new schedule
        callbacks.insert(0, Replan(budget, tc.epochs, max_epochs, lambda: time.perf_counter() - recorder.start,
                                   out / SCHEDULE_FILE, replanned, print_fn))
    if req.progress:
        callbacks.append(TQDMProgressBar(refresh_rate=max(1, len(train_loader) // 20)))
    if req.patience and val_loader is not None:
        callbacks.append(EarlyStopping("val_accuracy", mode="max", patience=req.patience))
    accelerator = pick_accelerator(req.accelerator)
    # the schedule is planned to end before the budget; epochs slower than measured are cut off at it
    max_time = {"seconds": budget} if budget else ({"minutes": req.max_minutes} if req.max_minutes else None)
    precision = req.precision or ("bf16-mixed" if accelerator == "gpu" else "32-true")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        warnings.filterwarnings("ignore", ".*LeafSpec.*")
        for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda",
                     "lightning.fabric.utilities.distributed"):
            logging.getLogger(name).setLevel(logging.WARNING)
        trainer = L.Trainer(
            max_epochs=tc.epochs,
            max_time=max_time,
            accelerator=accelerator,
            devices=req.devices,
            num_nodes=req.num_nodes,
            strategy=strategy(req.devices, req.num_nodes),
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
        # the trainer knows this process's rank (under DDP the others are started inside fit)
        say = print_fn if trainer.is_global_zero else _silent
        if not req.resume and trainer.is_global_zero and recorder.model_path.is_file():
            # not left beside this run's metrics.csv, as if this run had written it, should it stop in epoch 1
            recorder.model_path.unlink()
            notes.append(f"note: removed the earlier run's model.pt from {out}; this run writes its own")
        for line in notes:
            say(line)
        sigint = signal.getsignal(signal.SIGINT)
        try:
            trainer.fit(system, train_loader, val_loader, ckpt_path=str(resume_from) if req.resume else None,
                        weights_only=False)
        except SystemExit:  # Lightning's answer to Ctrl-C: a graceful shutdown, then sys.exit(1)
            if not trainer.interrupted:
                raise
            _restore_sigint(sigint)  # Lightning ignores Ctrl-C from then on
            raise KeyboardInterrupt(f"interrupted in epoch {trainer.current_epoch + 1}: " + (
                f"{resume_from} holds the run to the end of epoch {recorder.rows[-1]['epoch']}; the same command "
                f"with --resume continues it" if resume_from.is_file() and recorder.rows else
                "it had not finished an epoch, so there is nothing to resume; start it again")) from None
    cut = None
    if trainer.is_global_zero:
        if mixer is not None:
            print_fn(f"mixing: {len(mixer.bounds)} of {len(train_data)} training images were read right and cut "
                     f"into characters at the last epoch")
        cut = None if trainer.interrupted else _cut_short(
            trainer, "epochs took longer than measured: a slower or busier machine" if budget else
            f"--max-minutes {req.max_minutes or 0:g} stopped the run of {tc.epochs} epochs")
        if cut:
            print_fn(cut)
        if not trainer.interrupted:
            resume_from.unlink(missing_ok=True)
            (out / SCHEDULE_FILE).unlink(missing_ok=True)
        if req.report and len(val_data) and recorder.model_path.is_file() and not watch.stuck:
            report = write_run_report(out, recorder.model_path, val_data)
            if report.suspects:
                print_fn(f"{report.suspects} validation image(s) read with confidence >= {SUSPECT_CONFIDENCE} disagree "
                         f"with their labels: often the label is wrong; check them by eye "
                         f"({out / 'suspect_labels.csv'})")
            if case_hint := case_advice(report.case_only, report.images):
                print_fn(case_hint)
    best = recorder.best_metrics
    return TrainResult(
        model_path=recorder.model_path,
        metrics_path=recorder.metrics_path,
        best_epoch=recorder.best_epoch,
        best_val_accuracy=best.get("val_accuracy"),
        best_val_cer=best.get("val_cer"),
        epochs_run=trainer.current_epoch,
        cut_short=bool(cut),
        seconds=time.perf_counter() - t0,
        skipped=skipped,
        run_seconds=float(recorder.rows[-1]["seconds"]) if recorder.rows else 0.0,
        is_global_zero=trainer.is_global_zero,
        stuck=watch.stuck,
        train_images=len(train_data),
        right_to_left=paragraph_direction(train_data.labels) is not None,
        val_images=len(val_data),
    )


def _digest(*sets: LabelledImages) -> str:
    """A short hash of the images and labels of ``sets``: a resumed run must train on the same ones."""
    h = hashlib.sha1()
    for data in sets:
        h.update(np.ascontiguousarray(data.images).tobytes())
        h.update("\n".join(data.labels).encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def check_resumable(checkpoint: Path, groups: int, recorder: RunRecorder | None = None) -> None:
    """Raise a :class:`DataError` naming ``checkpoint`` when its optimiser state has another number of
    parameter groups than the run resuming it (``groups``): a run started with another ``--cnn-lr``, or a
    fine-tune interrupted under a captcha-ocr from before the convolutional layers had their own rate; or
    when that run trains on other data or settings (``recorder``'s fingerprint, when given: checked here,
    before Lightning loads weights of another shape)."""
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        saved = len(state["optimizer_states"][0]["param_groups"])
        recorded = state["callbacks"][recorder.state_key] if recorder is not None else None
    except Exception as exc:  # unreadable or foreign: say so rather than fail inside Lightning
        raise DataError(f"{checkpoint}: cannot resume from it ({type(exc).__name__}: {exc}); start the run again "
                        f"without --resume") from None
    if saved != groups:
        advice = ("it was likely written by an older captcha-ocr, whose fine-tunes trained every layer at one "
                  "rate: resume with --cnn-lr 1" if saved == 1 else
                  "it was started with another --cnn-lr: resume with the one it was started with")
        raise DataError(f"{checkpoint}: its optimiser has {saved} parameter group(s) and this run has {groups}; "
                        f"{advice}, or start the run again without --resume")
    if recorder is not None:
        recorder.check_fingerprint(recorded)


def _cut_short(trainer: L.Trainer, why: str) -> str | None:
    """The log line for a run that its time limit stopped before its epochs ended, else None: a
    budgeted run whose epochs took longer than the timed steps and the re-plans foresaw, or a run of
    a fixed ``--epochs`` count that ``--max-minutes`` cut off."""
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    remaining = timer.time_remaining() if timer is not None else None  # None: no time limit
    planned = trainer.fit_loop.max_epochs
    if remaining is None or remaining > 0 or trainer.current_epoch >= planned:
        return None
    return (f"time budget: it ran out after {trainer.current_epoch} of the {planned} planned epochs ({why}), so the "
            f"learning rate's cool-down was cut short; the model file holds the best epoch so far")


def _restore_sigint(handler) -> None:
    try:
        signal.signal(signal.SIGINT, handler)
    except (ValueError, TypeError):  # not the main thread, or a handler Python did not install
        pass


def _silent(*args, **kwargs) -> None:
    pass


def _describe_init(name: str, init: Bundle) -> str:
    """``name`` for the log, with what the model is when it says (the shipped general model does)."""
    prov = init.provenance
    if is_general(prov):
        return (f"{name} (the general model: {prov.get('steps', '?')} steps on {prov.get('samples_seen', '?')} "
                f"generated captchas, generator version {prov.get('generator', {}).get('version', '?')})")
    return str(name)


def _val_source(req: TrainRequest, tc: TrainConfig) -> str:
    """Where a run's validation images came from, for the model file's provenance."""
    if req.val_samples is not None:
        return f"{len(req.val_samples)} samples given"
    return str(req.val_dir) if req.val_dir else f"{tc.val_fraction:.0%} split, seed {tc.seed}"


def _init_summary(init: Bundle) -> dict:
    """The init model's provenance entries that say what it was (kept in the fine-tuned model's file)."""
    keys = ("kind", "preset", "data", "init", "steps", "samples_seen", "generator", "created", "train_images")
    return {k: init.provenance[k] for k in keys if k in init.provenance}


__all__ = ["SCRATCH", "TrainRequest", "TrainResult", "start_point", "train"]
