"""CPU cost of model variants: one training epoch (forward + backward + AdamW step) and
ONNX Runtime inference throughput.

    python bench/epoch_cost.py            # 936 images of 48x200 (the reference split)
    python bench/epoch_cost.py --bf16     # also bf16 autocast training

Random inputs (cost does not depend on content). Inference: the model exported to ONNX
(opset 20), 1040 images in batches of 32, best of 3 passes, with 1 and 2 intra-op threads.
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
    a = ap.parse_args()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, torch {torch.__version__}, {torch.get_num_threads()} threads")
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
