"""Synthetic captchas from the ``captcha`` package (its own fonts, noise, curves, warping).

Generation is deterministic for a seed: image ``i`` is drawn from a random state seeded by
``(seed, i)``, so any subset or order of images comes out the same. Files are named
``000000.png``, ``000001.png``, ... and labelled in a ``labels.csv`` manifest, so repeated
labels and any characters are fine.
"""

from __future__ import annotations

import csv
import os
import random
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from .data import Sample

DEFAULT_ALPHABET = "0123456789abcdefghjkmnpqrstuvwxyz"


def parse_range(text: str | int | tuple[int, int]) -> tuple[int, int]:
    """``"5"`` -> (5, 5); ``"4-6"`` -> (4, 6)."""
    if isinstance(text, tuple):
        return text
    text = str(text)
    lo, _, hi = text.partition("-")
    lo_i, hi_i = int(lo), int(hi or lo)
    if lo_i < 1 or hi_i < lo_i:
        raise ValueError(f"bad length range {text!r}: expected N or N-M with 1 <= N <= M")
    return lo_i, hi_i


def _make(args: tuple[int, int, str, tuple[int, int], tuple[int, int], str]) -> str:
    from captcha.image import ImageCaptcha

    seed, i, alphabet, lengths, size, out = args
    random.seed(f"captcha-ocr/{seed}/{i}")  # the captcha package draws from `random`
    label = "".join(random.choice(alphabet) for _ in range(random.randint(*lengths)))
    image = ImageCaptcha(width=size[0], height=size[1]).generate_image(label)
    image.save(os.path.join(out, f"{i:06d}.png"), compress_level=1)
    return label


def generate(
    out: str | os.PathLike,
    count: int,
    lengths: tuple[int, int] = (4, 5),
    alphabet: str = DEFAULT_ALPHABET,
    size: tuple[int, int] = (160, 60),
    seed: int = 0,
    workers: int | None = None,
) -> list[Sample]:
    """Write ``count`` captchas of ``size`` (width, height) and ``labels.csv`` into ``out``."""
    if count < 1:
        raise ValueError("count must be at least 1")
    if not alphabet:
        raise ValueError("alphabet is empty")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(seed, i, alphabet, lengths, size, str(out)) for i in range(count)]
    workers = workers or os.cpu_count() or 1
    if workers > 1 and count >= 64:
        with ProcessPoolExecutor(workers) as pool:
            labels = list(pool.map(_make, jobs, chunksize=max(1, count // (workers * 4))))
    else:
        labels = [_make(job) for job in jobs]
    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "label"])
        writer.writerows((f"{i:06d}.png", label) for i, label in enumerate(labels))
    return [Sample(out / f"{i:06d}.png", label) for i, label in enumerate(labels)]
