"""Cost of augmentation per training epoch: the torch batch path vs. albumentations per image.

    python bench/augment.py --data ../shared/datasets/captcha_images_v2 [--train-epochs 2]

Reads the data as `train` does (default preset: 10% held out with seed 42, resized to the
auto size), then times one epoch's worth of augmentation alone for each level: `light` /
`strong` on normalised batches of the preset's batch size (augment.augment_batch), and
`albu-light` / `albu-strong` image by image on uint8 (augment.albumentations_pipeline, as
TorchDataset applies it). With --train-epochs N it also trains N epochs per level
(`captcha_ocr.training.train`, no report) and gives the mean seconds per epoch after the first.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import tempfile
import time

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--levels", default="none,light,strong,albu-light,albu-strong")
    ap.add_argument("--repeats", type=int, default=3, help="best of N for the augmentation-only timing")
    ap.add_argument("--train-epochs", type=int, default=0, help="also train this many epochs per level")
    a = ap.parse_args()
    from captcha_ocr.augment import albumentations_pipeline, augment_batch
    from captcha_ocr.config import get_preset
    from captcha_ocr.dataset import prepare_data
    from captcha_ocr.training import TrainRequest, train

    preset = get_preset("default")
    train_data, _, _, pre, _ = prepare_data(a.data, preset, progress=False, print_fn=lambda *x: None)
    n, bs = len(train_data), preset.train.sized_for(len(train_data)).batch_size
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} on {platform.node()}: {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; {n} training images "
          f"{pre.height}x{pre.width}, batch {bs}")
    header = "| --augment | augmentation s/epoch | ms/image |" + (" train s/epoch |" if a.train_epochs else "")
    print(header)
    print("|" + " --- |" * (header.count("|") - 1))
    images = torch.from_numpy(train_data.images)
    augment_batch(pre.normalize(images[:bs]), "light")  # warm-up: first-call set-up is not per-epoch cost
    for level in a.levels.split(","):
        best = float("inf")
        for r in range(a.repeats):
            t = time.perf_counter()
            if level.startswith("albu-"):
                apply = albumentations_pipeline(level, seed=r)
                for im in train_data.images:
                    apply(np.ascontiguousarray(im.transpose(1, 2, 0)))
            elif level != "none":
                g = torch.Generator().manual_seed(r)
                for i in range(0, n, bs):
                    augment_batch(pre.normalize(images[i : i + bs]), level, generator=g)
            best = min(best, time.perf_counter() - t)
        row = f"| {level} | {best:.3f} | {1000 * best / n:.3f} |"
        if a.train_epochs:
            with tempfile.TemporaryDirectory() as out:
                train(TrainRequest(data=a.data, out=out, epochs=a.train_epochs, augment=level, progress=False,
                                   report=False), print_fn=lambda *x: None)
                secs = [float(r["seconds"]) for r in csv.DictReader(open(os.path.join(out, "metrics.csv")))]
            per = np.diff(secs).mean() if len(secs) > 1 else secs[0]
            row += f" {per:.2f} |"
        print(row, flush=True)


if __name__ == "__main__":
    main()
