"""CPU cost of one training epoch for model variants: forward + backward + AdamW step.

    python bench/epoch_cost.py            # 936 images of 48x200 (the reference split)

Random inputs (cost does not depend on content); fp32 and, where asked, bf16 autocast.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

import accuracy
import sweep  # noqa: F401  (registers the variants)
from captcha_ocr.model import CRNN, get_preset


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=936)
    ap.add_argument("--bf16", action="store_true", help="also time bf16 autocast")
    a = ap.parse_args()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    rows = [("default", None, 8), ("default", None, 16), ("default", None, 32), ("t50e60bs32", "t50e60bs32", 16),
            ("seed", None, 8)]
    for name, variant, batch in rows:
        preset = accuracy.variant_preset(variant, accuracy.VARIANTS[variant]) if variant else get_preset(name)
        h, w = preset.image_size or (48, 200)
        config = replace(preset.model, num_classes=20, height=h, width=w, in_channels=preset.channels)
        cost = epoch_seconds(config, batch, a.images)
        line = f"{name:>12} batch {batch:>2} T={config.time_steps:>3}: {cost:5.1f} s/epoch"
        if a.bf16:
            line += f", bf16 autocast {epoch_seconds(config, batch, a.images, bf16=True):5.1f} s/epoch"
        print(line, flush=True)


if __name__ == "__main__":
    main()
