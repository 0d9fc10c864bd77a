"""CPU cost of model variants: one training epoch (forward + backward + AdamW step) and
ONNX Runtime inference throughput.

    python bench/epoch_cost.py            # 936 images of 48x200 (the reference split)
    python bench/epoch_cost.py --bf16     # also bf16 autocast training
    python bench/epoch_cost.py --layouts  # only: NCHW against channels-last, a fine-tune's model
    python bench/epoch_cost.py --compile  # only: eager against torch.compile, a fine-tune's model
    python bench/epoch_cost.py --ddp      # only: one process against DDP over gloo, one thread each
    python bench/epoch_cost.py --archs    # only: the general model's default against its large network

Random inputs (cost does not depend on content). ``--layouts`` times the general model's
architecture at a fine-tune's 48x256 input, one layout's step after the other's (interleaved, so
both see the same machine), the median of 40 each: a training step at batch 8 and 32 and a
forward pass at batch 64. ``--compile`` times the same model eager and through ``torch.compile``
(both channels-last; interleaved, the median of 40 each): the seconds the first compiled steps take,
a training step at batch 16 (what the default trains 800 images in) and a forward pass at batch 64.
``--ddp`` times a training step of the same model at a global batch of 16 in one process using every
CPU thread, and split over as many gloo DDP processes as there are threads (one thread each, 16 / N
images each): what ``--device cpu --devices N`` does, in blocks of 20 steps taken in turn, the
median of 40 each. ``--archs`` times ``pretrain --arch default`` against ``--arch large``
(``config.GENERAL_ARCHITECTURES``) at a fine-tune's 48x256 input, interleaved, the median of 40 each:
a training step at batch 8 and 16 (what the default trains 800 images in) and a forward pass at batch 64.

Otherwise, per preset: one training epoch, and inference of the model exported to ONNX (opset
20), 1040 images in batches of 32, best of 3 passes, with 1 and 2 intra-op threads.
"""

from __future__ import annotations

import argparse
import io
import time
import warnings
from dataclasses import replace

import numpy as np
import torch

import accuracy
import sweep  # noqa: F401  (registers the variants)
from captcha_ocr.config import get_preset
from captcha_ocr.model import CRNN


def epoch_seconds(config, batch: int, images: int, bf16: bool = False, steps: int = 10) -> float:
    """Seconds for ``images`` training samples at batch ``batch`` (mean over ``steps`` steps)."""
    torch.manual_seed(0)
    model = CRNN(config)
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    x = torch.randn(batch, config.in_channels, config.height, config.width)
    for i in range(steps + 2):
        if i == 2:
            t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(x).float().logsumexp(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.perf_counter() - t) / steps * images / batch


def side_by_side(variants: dict, rows: list[tuple[str, int]], repeats: int = 40, first: bool = False) -> None:
    """Print the median ms of each row's measure (``("training step" | "forward pass", batch)``) for two
    variants of one model, ``{name: (module, callable that runs it)}``, one variant's call after the
    other's (interleaved, so both see the same machine) after three warm-up rounds. ``first``: also the
    seconds the first two training steps and one forward pass take (what compiling costs)."""
    import statistics

    config = next(iter(variants.values()))[0].config
    optimisers = {name: torch.optim.AdamW(model.parameters(), 1e-3) for name, (model, _run) in variants.items()}
    ctc = torch.nn.CTCLoss(zero_infinity=True)

    def train_step(name: str, batch: int) -> float:
        model, run = variants[name]
        model.train()
        x = torch.randn(batch, 3, config.height, config.width)
        targets = torch.randint(1, config.num_classes, (batch, 6))
        t = time.perf_counter()
        log_probs = run(x).log_softmax(-1).transpose(0, 1)
        loss = ctc(log_probs, targets, torch.full((batch,), log_probs.shape[0]), torch.full((batch,), 6))
        optimisers[name].zero_grad()
        loss.backward()
        optimisers[name].step()
        return time.perf_counter() - t

    def forward(name: str, batch: int) -> float:
        model, run = variants[name]
        model.eval()
        x = torch.randn(batch, 3, config.height, config.width)
        t = time.perf_counter()
        with torch.no_grad():
            run(x)
        return time.perf_counter() - t

    measures = {"training step": train_step, "forward pass": forward}
    a, b = variants
    if first:
        took = {name: train_step(name, rows[0][1]) + train_step(name, rows[0][1]) + forward(name, rows[-1][1])
                for name in (a, b)}
        print(f"first two training steps and one forward pass: {a} {took[a]:.1f} s, {b} {took[b]:.1f} s")
    print(f"| what | {a} ms | {b} ms | {a} / {b} |")
    print("| --- | --- | --- | --- |")
    for what, batch in rows:
        times: dict[str, list[float]] = {a: [], b: []}
        for r in range(repeats + 3):
            for name in ((a, b) if r % 2 == 0 else (b, a)):
                took_ms = measures[what](name, batch) * 1000
                if r >= 3:  # the first rounds warm up
                    times[name].append(took_ms)
        ms_a, ms_b = statistics.median(times[a]), statistics.median(times[b])
        print(f"| {what}, batch {batch} | {ms_a:.1f} | {ms_b:.1f} | {ms_a / ms_b:.2f}x |", flush=True)


def fine_tune_config():
    """The general model's architecture at a fine-tune's 48x256 input (40 classes)."""
    from captcha_ocr.bundle import load_bundle

    return replace(load_bundle("general").config, width=256, num_classes=40)


def layout_table() -> None:
    """NCHW against channels-last (see the docstring)."""
    config = fine_tune_config()
    variants = {}
    for name, channels_last in (("NCHW", False), ("channels-last", True)):
        torch.manual_seed(0)
        model = CRNN(config).set_layout(channels_last)
        variants[name] = (model, model)
    side_by_side(variants, [("training step", 8), ("training step", 32), ("forward pass", 64)])


def architecture_table() -> None:
    """The general model's default network against its large one (see the docstring)."""
    from captcha_ocr.config import GENERAL_ARCHITECTURES, default_preset

    base = default_preset().model_config(40, 48, 256)  # what pretrain builds, at a fine-tune's width
    variants = {}
    for name in ("default", "large"):
        torch.manual_seed(0)
        model = CRNN(replace(base, **GENERAL_ARCHITECTURES[name]))
        variants[name] = (model, model)
    side_by_side(variants, [("training step", 8), ("training step", 16), ("forward pass", 64)])


def compile_table() -> None:
    """Eager against ``torch.compile`` of the same weights (see the docstring)."""
    config = fine_tune_config()
    torch.manual_seed(0)
    eager = CRNN(config).set_layout(True)
    twin = CRNN(config).set_layout(True)
    twin.load_state_dict(eager.state_dict())
    side_by_side({"eager": (eager, eager), "compiled": (twin, torch.compile(twin))},
                 [("training step", 16), ("forward pass", 64)], first=True)


def train_step_ms(model, config, batch: int, steps: int, warmup: int = 3) -> list[float]:
    """Milliseconds of each of ``steps`` CTC training steps (forward, backward, AdamW) of ``model`` at
    ``batch`` random images, after ``warmup`` untimed ones."""
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    ctc = torch.nn.CTCLoss(zero_infinity=True)
    model.train()
    out = []
    for i in range(warmup + steps):
        x = torch.randn(batch, config.in_channels, config.height, config.width)
        targets = torch.randint(1, config.num_classes, (batch, 6))
        t = time.perf_counter()
        log_probs = model(x).log_softmax(-1).transpose(0, 1)
        loss = ctc(log_probs, targets, torch.full((batch,), log_probs.shape[0]), torch.full((batch,), 6))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= warmup:
            out.append((time.perf_counter() - t) * 1000)
    return out


def _ddp_worker(rank: int, world: int, batch: int, steps: int, port: int, results) -> None:
    """One DDP process: one thread, ``batch`` images a step; rank 0 puts its step times in ``results``."""
    import os

    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        config = fine_tune_config()
        torch.manual_seed(0)
        model = torch.nn.parallel.DistributedDataParallel(CRNN(config).set_layout(True))
        times = train_step_ms(model, config, batch, steps)
        if rank == 0:
            results.put(times)
    finally:
        dist.destroy_process_group()


def ddp_table(global_batch: int = 16, blocks: int = 2, steps: int = 20) -> None:
    """One process with every thread against DDP over one-thread processes (see the docstring)."""
    import socket
    import statistics

    import torch.multiprocessing as mp

    world = torch.get_num_threads()
    config = fine_tune_config()
    single: list[float] = []
    ddp: list[float] = []
    ctx = mp.get_context("spawn")
    for _ in range(blocks):
        torch.manual_seed(0)
        single += train_step_ms(CRNN(config).set_layout(True), config, global_batch, steps)
        with socket.socket() as sock:  # a free port for the rendezvous
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        results = ctx.SimpleQueue()
        mp.start_processes(_ddp_worker, args=(world, global_batch // world, steps, port, results), nprocs=world,
                           join=True, start_method="spawn")
        ddp += results.get()
    one, many = statistics.median(single), statistics.median(ddp)
    print(f"| training step, global batch {global_batch} | ms |\n| --- | --- |\n"
          f"| one process, {world} threads | {one:.1f} |\n"
          f"| {world} DDP processes (gloo), 1 thread and {global_batch // world} images each | {many:.1f} |\n"
          f"| DDP / one process | {many / one:.2f}x |")


def onnx_images_per_second(config, threads: int, images: int = 1040, batch: int = 32) -> float:
    """ONNX Runtime throughput of an (untrained) model on random ``[images, C, H, W]`` input."""
    import onnxruntime as ort

    model = CRNN(config).eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.randn(2, config.in_channels, config.height, config.width), buf,
                          input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "b"}}, opset_version=20,
                          dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(buf.getvalue(), options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(images, config.in_channels, config.height, config.width))
    x = x.astype(np.float32)

    def run() -> None:
        for i in range(0, images, batch):
            session.run(None, {"x": x[i : i + batch]})

    run()
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t)
    return images / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=936)
    ap.add_argument("--bf16", action="store_true", help="also time bf16 autocast")
    ap.add_argument("--layouts", action="store_true", help="only time NCHW against channels-last")
    ap.add_argument("--compile", action="store_true", help="only time eager against torch.compile")
    ap.add_argument("--ddp", action="store_true", help="only time one process against DDP over gloo")
    ap.add_argument("--archs", action="store_true", help="only time the general model's default and large networks")
    a = ap.parse_args()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    if a.ddp:
        ddp_table()
        return
    if a.layouts:
        layout_table()
        return
    if a.archs:
        architecture_table()
        return
    if a.compile:
        compile_table()
        return
    rows = [("default", None, 8), ("previous default", "previous_default", 8), ("lean", "lean_e45", 8),
            ("seed", None, 8)]
    print("| model | train s/epoch (batch 8) | ONNX img/s, 1 thread | ONNX img/s, 2 threads |"
          + (" bf16 train s/epoch |" if a.bf16 else ""))
    print("| --- | --- | --- | --- |" + (" --- |" if a.bf16 else ""))
    for name, variant, batch in rows:
        preset = accuracy.variant_preset(variant, accuracy.VARIANTS[variant]) if variant else get_preset(name)
        h, w = preset.image_size or (48, 200)
        config = replace(preset.model, num_classes=20, height=h, width=w, in_channels=preset.channels)
        cost = epoch_seconds(config, batch, a.images)
        line = (f"| {name} ({'-'.join(str(s[0]) for s in config.stages for _ in range(s[1]))}, T={config.time_steps}) "
                f"| {cost:.1f} | {onnx_images_per_second(config, 1):,.0f} | {onnx_images_per_second(config, 2):,.0f} |")
        if a.bf16:
            line += f" {epoch_seconds(config, batch, a.images, bf16=True):.1f} |"
        print(line, flush=True)


if __name__ == "__main__":
    main()
