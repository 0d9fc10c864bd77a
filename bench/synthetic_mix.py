"""Probe: few labels plus generated captchas drawn with the site's alphabet, label lengths and image size.

With 100 labels a fine-tune learns its images by heart. Here the labelled images (each repeated
--repeat times, so an epoch holds enough of them) are mixed with --synthetic images from the
generator's `random` styles, with the alphabet, the shortest and longest label and the median image
size taken from the labelled images (what a user's labels tell). Same sets, validation images,
labelled draws and 2-minute budget as bench/fewshot.py's `init` mode, batch 8 (what the default
takes for so few images; the repeats would otherwise push it to 16). `--synthetic 0` is the control:
the repeats alone. Rows go to bench/out/synthmix.jsonl.

    python bench/synthetic_mix.py --sets rkn_securimage,fssp_gov_ru --synthetic 1000 --repeat 10
    python bench/synthetic_mix.py --sets rkn_securimage,fssp_gov_ru --synthetic 0 --repeat 10
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from captcha_ocr.samples import Sample
from captcha_ocr.styles import random_style
from captcha_ocr.styles.render import render_spec
from captcha_ocr.training import TrainRequest, train
from fewshot import split
from generality import last_epoch_accuracy, load_set

OUT = Path(__file__).parent / "out"


def synthetic_like(labelled: list[Sample], count: int, folder: Path, seed: str) -> list[Sample]:
    """``count`` generated captchas (random styles) with the labelled images' alphabet, label lengths and
    median size, written once into ``folder``."""
    alphabet = "".join(sorted(set("".join(s.label for s in labelled))))
    lengths = [len(s.label) for s in labelled]
    sizes = [Image.open(s.path).size for s in labelled]
    size = (int(statistics.median(w for w, _ in sizes)), int(statistics.median(h for _, h in sizes)))
    folder.mkdir(parents=True, exist_ok=True)
    samples = []
    for i in range(count):
        rng = random.Random(f"synmix/{seed}/{i}")
        nrng = np.random.default_rng(rng.getrandbits(64))
        spec = dataclasses.replace(random_style(rng), size=size, size_max=None, alphabet=alphabet,
                                   lengths=(min(lengths), max(lengths)))
        label, image, _ = render_spec(spec, rng, nrng)
        path = folder / f"{i:05d}.png"
        if not path.exists():
            image.save(path)
        samples.append(Sample(path, label))
    return samples


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    p.add_argument("--sets", default="rkn_securimage,fssp_gov_ru")
    p.add_argument("--labels", type=int, default=100)
    p.add_argument("--synthetic", type=int, default=1000, help="generated images mixed in (0: the control)")
    p.add_argument("--repeat", type=int, default=10, help="times each labelled image appears in an epoch")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--val", type=int, default=200)
    a = p.parse_args()
    tag = f"syn{a.synthetic}x{a.repeat}"
    for name in a.sets.split(","):
        labelled, val, _ = split(load_set(name, a.data), a.val, a.labels, a.seed, 0)
        t0 = time.perf_counter()
        synthetic = synthetic_like(labelled, a.synthetic, OUT / "synthetic" / f"{name}-{a.labels}-{a.seed}",
                                   f"{name}/{a.seed}")
        generated_s = time.perf_counter() - t0
        out = OUT / "fewshot" / tag / f"{name}-n{a.labels}-s{a.seed}"
        result = train(TrainRequest(data=labelled * a.repeat + synthetic, val_samples=val, out=str(out), seed=a.seed,
                                    max_minutes=2.0, init="general", progress=False, report=False, batch_size=8),
                       print_fn=lambda *x, name=name: print(name, *x, flush=True))
        row = dict(tag=tag, set=name, labels=a.labels, seed=a.seed, accuracy=result.best_val_accuracy,
                   final_accuracy=last_epoch_accuracy(result.metrics_path), best_epoch=result.best_epoch,
                   epochs=result.epochs_run, train_seconds=round(result.run_seconds, 1),
                   gen_seconds=round(generated_s, 1), date=time.strftime("%Y-%m-%d %H:%M"))
        print(json.dumps(row), flush=True)
        with (OUT / "synthmix.jsonl").open("a") as fh:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
