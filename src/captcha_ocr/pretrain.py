"""The general model: a recogniser pretrained on generated captchas of every kind
(``captcha-ocr pretrain --out DIR``), shipped in the package as ``Recognizer.load("general")``.

**Data.** The ``"general"`` pseudo-style of :mod:`captcha_ocr.styles` (a fresh random style per
image, and the ``captcha`` package's own captchas; sizes 60x20 to 640x100, labels of 1-10
characters from :data:`~captcha_ocr.styles.GENERAL_ALPHABET`), drawn on the fly by DataLoader
worker processes. Batch ``s`` is images ``s * B .. s * B + B - 1`` of the run's seed, whichever
worker draws it, so the stream is the same for any number of workers and a resumed run goes on
at exactly the step where it stopped. Nothing is written to disk but checkpoints and the model.

**Input.** Every image is resized to :data:`INPUT_HEIGHT` x :data:`INPUT_WIDTH` (48 x 192, RGB,
each image normalised by the network). 48 px is the height the default picks for the commonest
captcha heights (40-56 px; the reference data's 200x50 gets 48x200) and keeps 3 rows of features
for thin and hollow strokes; 192 px gives T = 24 frames, two per character and two more for the
longest label (10 characters, ``geometry.choose_geometry``'s rule), at about the pixel cost of
the default's 48x200. A fine-tune from this model keeps the 48 px height and takes its width from
its data (the network is convolutional along the width).

**Schedule.** AdamW with a one-cycle-shaped learning rate (a short warm-up, then a cosine down to
1/1000 of the peak) laid over the run's progress: the elapsed share of the time budget
(``minutes``), or of ``steps``, whichever is further along; the run ends at 100%. The progress is
measured in time rather than planned from a measured step (as :mod:`captcha_ocr.schedule` does
for epochs) because drawing the images in worker processes, not the network, often sets the pace.

**Files.** ``DIR/last.ckpt`` (weights, optimiser, step, elapsed time, the evaluation history;
written atomically every ``checkpoint_minutes``, at the end, and on Ctrl-C) and ``DIR/model.pt``
(a normal model file, with the generator's settings and version, steps, samples seen, seed,
minutes and the command in its provenance) at the same moments; ``DIR/metrics.csv`` has one row
per evaluation on :data:`EVAL_IMAGES` fixed held-out generated images (seed :data:`EVAL_SEED`,
which no training run draws). ``resume`` continues from ``last.ckpt`` (same seed, batch size and
generator); a finished run keeps it, so it can be extended with a larger budget.
"""

from __future__ import annotations

import csv
import io
import math
import os
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .bundle import Bundle, clean_state_dict, load_bundle, save_bundle
from .charset import Charset
from .config import GENERAL_ARCHITECTURES, Preset, default_preset
from .dataset import collate
from .decode import greedy_decode
from .devices import pick_accelerator
from .errors import DataError
from .files import write_atomic
from .finetune import init_weights
from .images import Preprocess
from .metrics import character_error_rate, sequence_accuracy
from .model import count_parameters
from .shipped import resolve_model_path
from .styles import CAPTCHA_SHARE, GENERAL, GENERAL_ALPHABET, GENERATOR_VERSION, draw_style
from .styles.fonts import FONT_DIRS_ENV, available_fonts
from .system import CTCSystem

INPUT_HEIGHT, INPUT_WIDTH = 48, 192
MAX_LENGTH = 10  # the longest label the generator draws
EVAL_SEED = -1  # the held-out images' seed: training seeds are >= 0, so no training image is one of them
EVAL_IMAGES = 512
DEFAULT_MINUTES = 60.0
WARMUP = 0.05  # share of the run spent raising the learning rate
CHECKPOINT_FORMAT = "captcha-ocr-pretrain"
PRECISIONS = ("32-true", "bf16-mixed")
REPLAY_BATCHES = 64  # with repeat > 1: the drawn batches kept to be trained on again


def general_preset() -> Preset:
    """The default preset's architecture and preprocessing at the general model's fixed input size,
    trained with batches of 32 at a peak learning rate of 2e-3 (the default's 1e-3 at batch 8, scaled
    by the square root of the batch) and light augmentation from the start."""
    p = default_preset()
    return replace(p, name="general", image_size=(INPUT_HEIGHT, INPUT_WIDTH),
                   train=replace(p.train, batch_size=32, lr=2e-3, augment="light", augment_warmup=False,
                                 warmup=WARMUP, budget_minutes=DEFAULT_MINUTES))


@dataclass
class PretrainRequest:
    """What ``captcha-ocr pretrain`` does; the run stops at ``minutes`` or ``steps``, whichever comes first."""

    out: str
    minutes: float | None = None  # time budget; None = DEFAULT_MINUTES unless ``steps`` is given
    steps: int | None = None
    resume: bool = False
    seed: int = 0
    workers: int | None = None  # processes drawing images; None = one per CPU but one (at least 1); 0 = in-process
    batch_size: int = 32
    lr: float = 2e-3
    device: str = "auto"  # auto (a CUDA GPU when there is one) | cpu | gpu
    eval_images: int = EVAL_IMAGES
    checkpoint_minutes: float = 5.0  # checkpoint, model.pt and an evaluation this often
    progress: bool = True
    command: str | None = None  # the command line, for the model's provenance
    init: str | None = None  # start from this model's weights (a file or a shipped name); ignored on resume
    precision: str = "32-true"  # or "bf16-mixed": bfloat16 autocast for the forward pass (always on a GPU)
    font_dirs: tuple[str, ...] = ()  # more fonts for the generator (folders of .ttf/.otf files)
    arch: str = "default"  # a key of config.GENERAL_ARCHITECTURES
    # optimiser steps per drawn batch: the new batch, then repeat - 1 batches picked at random from the last
    # REPLAY_BATCHES drawn, each augmented afresh (for an accelerator that trains faster than workers draw)
    repeat: int = 1


@dataclass
class PretrainResult:
    model_path: Path
    checkpoint_path: Path
    steps: int
    samples_seen: int
    minutes: float  # of the whole run, across resumes
    eval_accuracy: float
    eval_cer: float


class GeneratedCaptchas(torch.utils.data.Dataset):
    """Index ``i`` -> ``(uint8 [C, H, W] tensor, label ids, i)``: image ``i`` of ``seed`` in the
    ``"general"`` style, resized by ``preprocess`` (the one image -> array path)."""

    def __init__(self, seed: int, preprocess: Preprocess, charset: Charset) -> None:
        self.seed, self.preprocess, self.charset = seed, preprocess, charset

    def __len__(self) -> int:  # an endless stream; the sampler says which indices
        return 2**62

    def __getitem__(self, i: int):
        label, image = draw_style(GENERAL, self.seed, int(i))
        return torch.from_numpy(self.preprocess.load(image)), self.charset.encode_one(label), int(i)


class StepBatches(torch.utils.data.Sampler):
    """Batches of indices ``[s * B, (s + 1) * B)`` for steps ``s = start, start + 1, ...`` (up to ``stop``)."""

    def __init__(self, batch_size: int, start: int = 0, stop: int | None = None) -> None:
        self.batch_size, self.start, self.stop = batch_size, start, stop

    def __iter__(self):
        step = self.start
        while self.stop is None or step < self.stop:
            yield list(range(step * self.batch_size, (step + 1) * self.batch_size))
            step += 1


def lr_at(progress: float, peak: float, warmup: float = WARMUP) -> float:
    """One-cycle shape over ``progress`` in [0, 1]: linear from ``peak / 25`` up to ``peak`` over
    ``warmup``, then a cosine down to ``peak / 1000``."""
    progress = min(max(progress, 0.0), 1.0)
    if progress < warmup:
        return peak / 25 + (peak - peak / 25) * progress / warmup
    t = (progress - warmup) / (1 - warmup)
    return peak / 1000 + (peak - peak / 1000) * 0.5 * (1 + math.cos(math.pi * t))


def default_workers() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(8, cpus - 1))


def draw_eval_set(n: int, preprocess: Preprocess, progress: bool = False) -> tuple[np.ndarray, list[str]]:
    """The fixed held-out images: ``(uint8 [n, C, H, W], labels)``, images ``0 .. n-1`` of :data:`EVAL_SEED`."""
    from tqdm.auto import tqdm

    images = np.empty((n, preprocess.channels, preprocess.height, preprocess.width), np.uint8)
    labels = []
    for i in tqdm(range(n), desc="drawing held-out images", disable=not progress, leave=False):
        label, image = draw_style(GENERAL, EVAL_SEED, i)
        images[i] = preprocess.load(image)
        labels.append(label)
    return images, labels


def evaluate_arrays(system: CTCSystem, images: np.ndarray, labels: list[str], device: torch.device,
                    batch_size: int = 128) -> tuple[float, float]:
    """``(exact-match accuracy, CER)`` of greedy readings of uint8 ``[N, C, H, W]`` images."""
    model = system.model
    was_training = model.training
    model.eval()
    texts: list[str] = []
    with torch.inference_mode():
        for i in range(0, len(images), batch_size):
            x = system.preprocess.normalize(torch.from_numpy(images[i : i + batch_size]).to(device))
            texts += [d.text for d in greedy_decode(model(x).float().cpu(), system.charset)]
    model.train(was_training)
    return sequence_accuracy(labels, texts), character_error_rate(labels, texts)


def _fingerprint(req: PretrainRequest, config) -> dict:
    """What a resumed run must share with the interrupted one."""
    return {"eval_images": req.eval_images, "generator": GENERAL, "generator_version": GENERATOR_VERSION,
            "seed": req.seed, "batch_size": req.batch_size, "charset": GENERAL_ALPHABET, "config": config.to_dict(),
            "fonts": [p.name for p in available_fonts()], "repeat": req.repeat}


def _check_request(req: PretrainRequest) -> None:
    if req.seed < 0:
        raise ValueError(f"--seed must be 0 or more (negative seeds draw the held-out images), got {req.seed}")
    if req.minutes is not None and req.minutes <= 0:
        raise ValueError(f"--minutes must be positive, got {req.minutes}")
    if req.steps is not None and req.steps < 1:
        raise ValueError(f"--steps must be at least 1, got {req.steps}")
    if req.batch_size < 1 or req.eval_images < 1:
        raise ValueError("--batch-size and --eval-images must be at least 1")
    if req.device not in ("auto", "cpu", "gpu", "cuda"):
        raise ValueError(f"--device must be auto, cpu or gpu, got {req.device!r}")
    if req.device in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ValueError("--device gpu: no CUDA device is available here")
    if req.arch not in GENERAL_ARCHITECTURES:
        raise ValueError(f"--arch must be one of {', '.join(GENERAL_ARCHITECTURES)}, got {req.arch!r}")
    if req.repeat < 1:
        raise ValueError(f"--repeat must be at least 1, got {req.repeat}")
    if req.precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {req.precision!r}")
    missing = [d for d in req.font_dirs if not Path(d).is_dir()]
    if missing:
        raise DataError(f"{missing[0]}: --font-dir is not a folder")


def pretrain(req: PretrainRequest, print_fn=print) -> PretrainResult:
    """Train (or, with ``req.resume``, continue training) the general model; see the module docstring."""
    _check_request(req)
    if not req.font_dirs:
        return _pretrain(req, print_fn)
    before = os.environ.get(FONT_DIRS_ENV)
    # the generator reads it, here and in the worker processes (which inherit it); put back afterwards
    os.environ[FONT_DIRS_ENV] = os.pathsep.join(os.path.abspath(d) for d in req.font_dirs)
    try:
        return _pretrain(req, print_fn)
    finally:
        if before is None:
            os.environ.pop(FONT_DIRS_ENV, None)
        else:
            os.environ[FONT_DIRS_ENV] = before


def _pretrain(req: PretrainRequest, print_fn) -> PretrainResult:
    from tqdm.auto import tqdm

    minutes = req.minutes if req.minutes is not None else (None if req.steps else DEFAULT_MINUTES)
    budget = minutes * 60 if minutes else None
    out = Path(req.out)
    ckpt_path, model_path, metrics_path = out / "last.ckpt", out / "model.pt", out / "metrics.csv"
    if req.resume and not ckpt_path.is_file():
        raise DataError(f"{out}: no pretraining run to resume (no last.ckpt there); start it without --resume")
    if not req.resume and ckpt_path.is_file():
        print_fn(f"note: {out} holds a pretraining run (last.ckpt); this new run replaces it (--resume would "
                 f"have continued it)")
    out.mkdir(parents=True, exist_ok=True)

    preset = general_preset()
    charset = Charset(GENERAL_ALPHABET)
    preprocess = Preprocess.for_preset(preset, INPUT_HEIGHT, INPUT_WIDTH)
    config = replace(preset.model_config(charset.num_classes, INPUT_HEIGHT, INPUT_WIDTH),
                     **GENERAL_ARCHITECTURES[req.arch])
    tc = replace(preset.train, batch_size=req.batch_size, lr=req.lr, seed=req.seed)
    torch.manual_seed(req.seed)
    system = CTCSystem(config, charset, preprocess, tc)
    system.augment_active = True
    device = torch.device("cuda" if pick_accelerator(req.device) in ("gpu", "cuda") else "cpu")
    model = system.model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=req.lr, weight_decay=tc.weight_decay)
    fingerprint = _fingerprint(req, config)
    command = req.command or f"captcha-ocr pretrain --out {req.out} --seed {req.seed}"
    step, elapsed, history, commands = 0, 0.0, [], [command]
    init_info = None
    if req.init and not req.resume:
        source = load_bundle(resolve_model_path(req.init))
        copied = init_weights(system.model, charset, source, req.init)
        init_info = {"model": req.init, "steps": source.provenance.get("steps"),
                     "created": source.provenance.get("created"), "generator": source.provenance.get("generator")}
        print_fn(f"initialised from {req.init}: {copied}")
    if req.resume:
        state = _load_checkpoint(ckpt_path, fingerprint)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, elapsed, history = int(state["step"]), float(state["elapsed"]), list(state["history"])
        commands = [*state.get("commands", []), command]
        init_info = state.get("init")
        kept = state.get("budget") or {}
        if req.minutes is None and req.steps is None and (kept.get("minutes") or kept.get("steps")):
            req = replace(req, minutes=kept.get("minutes"), steps=kept.get("steps"))  # the run's own
            minutes = req.minutes
            budget = minutes * 60 if minutes else None
        print_fn(f"resuming from {ckpt_path} at step {step:,} ({step * req.batch_size:,} images, "
                 f"{elapsed / 60:.1f} minutes in)")
    torch.manual_seed(req.seed * 1_000_003 + step)  # the augmentation stream, per resume point
    workers = default_workers() if req.workers is None else req.workers
    replays = f" (each trained on {req.repeat} times)" if req.repeat > 1 else ""
    until = ([f"{minutes:g} minutes"] if minutes else []) + ([f"step {req.steps:,}"] if req.steps else [])
    print_fn(f"pretraining the general model: generator {GENERAL!r} version {GENERATOR_VERSION}, seed {req.seed}, "
             f"{len(charset)} characters, input {INPUT_HEIGHT}x{INPUT_WIDTH}x3, T={config.time_steps}, "
             f"{count_parameters(model):,} parameters ({req.arch}), batch {req.batch_size}{replays}, peak lr "
             f"{req.lr:g}, {workers} worker process(es), device {device.type}, {req.precision}, "
             f"{len(available_fonts())} fonts; until {' or '.join(until)}")
    eval_images, eval_labels = draw_eval_set(req.eval_images, preprocess, req.progress)

    def progress_of(step_: int, seconds: float) -> float:
        return max(seconds / budget if budget else 0.0, step_ / req.steps if req.steps else 0.0)

    def checkpoint(loss: float | None, evaluate: bool = True) -> dict | None:
        row = None
        if evaluate:
            acc, cer = evaluate_arrays(system, eval_images, eval_labels, device)
            row = {"step": step, "samples": step * req.batch_size, "minutes": round(seconds_now() / 60, 3),
                   "train_loss": loss, "lr": opt.param_groups[0]["lr"], "eval_accuracy": acc, "eval_cer": cer}
            history.append(row)
            _write_metrics(metrics_path, history)
        _save_checkpoint(ckpt_path, model, opt, step, seconds_now(), history, fingerprint, commands, init_info,
                         {"minutes": minutes, "steps": req.steps})
        save_bundle(_bundle(system, req, step, seconds_now(), minutes, history, commands, init_info), model_path)
        return row

    t_start = time.perf_counter() - elapsed

    def seconds_now() -> float:
        return time.perf_counter() - t_start

    stop = -(-req.steps // req.repeat) if req.steps else None  # batches to draw
    loader = torch.utils.data.DataLoader(
        GeneratedCaptchas(req.seed, preprocess, charset),
        batch_sampler=StepBatches(req.batch_size, step // req.repeat, stop),
        num_workers=workers, collate_fn=collate, pin_memory=device.type == "cuda",
        prefetch_factor=4 if workers else None,
    )
    bar = tqdm(total=100.0, disable=not req.progress, desc="pretraining", unit="%",
               bar_format="{l_bar}{bar}| {n:.1f}% [{elapsed}<{remaining}{postfix}]")
    say = tqdm.write if req.progress and print_fn is print else print_fn
    if init_info and not history:  # where the init model starts on this generator's held-out images
        acc, cer = evaluate_arrays(system, eval_images, eval_labels, device)
        history.append({"step": 0, "samples": 0, "minutes": 0.0, "train_loss": None, "lr": None,
                        "eval_accuracy": acc, "eval_cer": cer})
        _write_metrics(metrics_path, history)
        print_fn(f"step 0 (the init model): held-out accuracy {acc:.2%}, CER {cer:.4f}")
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
                else torch.autocast("cpu", dtype=torch.bfloat16) if req.precision == "bf16-mixed" else nullcontext())
    loss_avg: float | None = None
    last_save, window = time.perf_counter(), (time.perf_counter(), step)
    replay: list[tuple] = []  # the last REPLAY_BATCHES drawn batches, with repeat > 1 (empty again on resume)
    pick = random.Random(req.seed * 1_000_003 + step)

    def train_on(batch: tuple) -> float:
        nonlocal step
        for group in opt.param_groups:
            group["lr"] = lr_at(progress_of(step, seconds_now()), req.lr)
        x, targets, lengths, _ = system.prepare_batch(batch, training=True)
        with autocast:
            logits = model(x)
        loss = system.losses(logits.float(), targets.to(device), lengths).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        opt.step()
        step += 1
        return float(loss.detach())

    try:
        for images, targets, lengths, _ in loader:
            if progress_of(step, seconds_now()) >= 1:
                break
            batch = (images.to(device, non_blocking=True), targets, lengths, None)
            if req.repeat > 1:
                replay = [*replay[1 - REPLAY_BATCHES:], batch]
            for chosen in [batch] + [pick.choice(replay) for _ in range(req.repeat - 1)]:
                if req.steps and step >= req.steps:
                    break
                value = train_on(chosen)
                loss_avg = value if loss_avg is None else 0.98 * loss_avg + 0.02 * value
            bar.n = round(100 * min(1.0, progress_of(step, seconds_now())), 1)
            bar.set_postfix_str(f"step {step:,}, loss {loss_avg:.3f}", refresh=True)
            if time.perf_counter() - last_save >= req.checkpoint_minutes * 60:
                rate = (step - window[1]) / req.repeat * req.batch_size / (time.perf_counter() - window[0])
                row = checkpoint(loss_avg)
                say(f"step {step:,} ({step // req.repeat * req.batch_size:,} images drawn, {seconds_now() / 60:.1f} "
                    f"min, {rate:.0f} images/s): loss {loss_avg:.4f}, lr {row['lr']:.2e}, held-out accuracy "
                    f"{row['eval_accuracy']:.2%}, CER {row['eval_cer']:.4f}  (checkpoint saved)")
                last_save, window = time.perf_counter(), (time.perf_counter(), step)
    except KeyboardInterrupt:
        bar.close()
        checkpoint(loss_avg, evaluate=False)
        print_fn(f"interrupted at step {step:,}: checkpoint saved to {ckpt_path}; --resume continues the run")
        raise
    finally:
        bar.close()
    scored = bool(history) and history[-1]["step"] == step  # a checkpoint has just scored this step
    row = history[-1] if scored else None
    row = checkpoint(loss_avg, evaluate=not scored) or row
    drawn = f", {step // req.repeat * req.batch_size:,} drawn" if req.repeat > 1 else ""
    print_fn(f"done: {step:,} steps ({step * req.batch_size:,} images{drawn}) in {seconds_now() / 60:.1f} minutes; "
             f"held-out accuracy {row['eval_accuracy']:.2%}, CER {row['eval_cer']:.4f} on {len(eval_labels)} "
             f"generated images\nmodel: {model_path}\ncheckpoint: {ckpt_path} (--resume with a larger --minutes "
             f"or --steps goes on)")
    return PretrainResult(model_path, ckpt_path, step, step * req.batch_size, seconds_now() / 60,
                          row["eval_accuracy"], row["eval_cer"])


def _bundle(system: CTCSystem, req: PretrainRequest, step: int, seconds: float, minutes: float | None,
            history: list[dict], commands: list[str], init_info: dict | None) -> Bundle:
    last = history[-1] if history else {}
    return Bundle(
        config=system.model.config,
        charset=system.charset,
        preprocess=system.preprocess,
        state_dict=clean_state_dict(system.model),
        lengths=list(range(1, MAX_LENGTH + 1)),
        provenance={
            "kind": "general",
            "captcha_ocr_version": __version__,
            "torch_version": str(torch.__version__),
            "preset": "general",
            "generator": {"style": GENERAL, "version": GENERATOR_VERSION, "seed": req.seed,
                          "captcha_share": CAPTCHA_SHARE, "alphabet": GENERAL_ALPHABET, "lengths": [1, MAX_LENGTH],
                          "sizes": "60x20 to 640x100", "fonts": [p.name for p in available_fonts()],
                          "font_dirs": list(req.font_dirs)},
            "init": init_info,
            "precision": req.precision,
            "seed": req.seed,
            "steps": step,
            "samples_seen": step * req.batch_size,  # images trained on, a replayed one each time
            "images_drawn": step // req.repeat * req.batch_size,
            "repeat": req.repeat,
            "arch": req.arch,
            "batch_size": req.batch_size,
            "lr": req.lr,
            "minutes": round(seconds / 60, 2),
            "budget_minutes": minutes,
            "max_steps": req.steps,
            "train_config": replace(system.tc, epochs=0, budget_minutes=minutes).to_dict(),
            "eval": {"images": req.eval_images, "seed": EVAL_SEED, "step": last.get("step"),
                     "accuracy": last.get("eval_accuracy"), "cer": last.get("eval_cer")},
            "command": commands[0],  # the run's first command; resumes in "resumed_with"
            "resumed_with": commands[1:],
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )


def _save_checkpoint(path: Path, model, opt, step: int, elapsed: float, history: list[dict],
                     fingerprint: dict, commands: list[str], init_info: dict | None, budget: dict) -> None:
    data = {"format": CHECKPOINT_FORMAT, "fingerprint": fingerprint, "model": clean_state_dict(model),
            "optimizer": opt.state_dict(), "step": step, "elapsed": elapsed, "history": history,
            "commands": commands, "init": init_info, "budget": budget}
    buf = io.BytesIO()
    torch.save(data, buf)
    write_atomic(path, lambda fh: fh.write(buf.getvalue()))


def _load_checkpoint(path: Path, fingerprint: dict) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise DataError(f"{path}: not a readable pretraining checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise DataError(f"{path}: not a captcha-ocr pretraining checkpoint")
    # checkpoints written before --repeat and --eval-images were kept: one step a batch, the default count
    theirs = {"repeat": 1, "eval_images": EVAL_IMAGES, **state["fingerprint"]}
    differ = [k for k in fingerprint if theirs.get(k) != fingerprint[k]]
    if differ:
        what = ", ".join(f"{k} {theirs.get(k)!r} vs {fingerprint[k]!r}" for k in differ if k not in ("config",))
        raise DataError(f"{path}: the interrupted run used other settings ({what or 'architecture'}); resume with "
                        f"the same --seed, --batch-size, --arch, --repeat and --eval-images (and the same "
                        f"captcha-ocr), or start a new run")
    return state


def _write_metrics(path: Path, history: list[dict]) -> None:
    columns = ["step", "samples", "minutes", "train_loss", "lr", "eval_accuracy", "eval_cer"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in history:
        writer.writerow(["" if row.get(c) is None else (f"{row[c]:.6g}" if isinstance(row[c], float) else row[c])
                         for c in columns])
    write_atomic(path, lambda fh: fh.write(buf.getvalue().encode()))


__all__ = ["PretrainRequest", "PretrainResult", "pretrain", "general_preset", "GeneratedCaptchas", "StepBatches",
           "lr_at", "INPUT_HEIGHT", "INPUT_WIDTH", "EVAL_SEED"]
