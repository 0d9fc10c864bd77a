"""Synthetic captchas from the ``captcha`` package (its own fonts, noise, curves, warping).

Generation is deterministic for a seed: image ``i`` is drawn from a random state seeded by
``(seed, i)``, so any subset or order of images comes out the same, whatever the number of
worker processes. (``captcha`` >= 0.6 draws from the ``secrets`` module, which cannot be
seeded; while an image is drawn, that module's ``secrets`` is swapped for a seeded stand-in.)
Files are named ``000000.png``, ``000001.png``, ... and labelled in a ``labels.csv`` manifest,
so repeated labels and any characters are fine.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

from .samples import Sample
from .writer import write_dataset

DEFAULT_ALPHABET = "0123456789abcdefghjkmnpqrstuvwxyz"


def parse_size(text: str | tuple[int, int]) -> tuple[int, int]:
    """``"200x50"`` -> (200, 50) as (width, height)."""
    if isinstance(text, tuple):
        return text
    w, sep, h = str(text).lower().partition("x")
    try:
        size = int(w), int(h)
    except ValueError:
        size = (0, 0)
    if not sep or min(size) < 8:
        raise ValueError(f"bad size {text!r}: expected WIDTHxHEIGHT, e.g. 200x50 (at least 8x8)")
    return size


class _SeededSecrets:
    """The three ``secrets`` functions ``captcha.image`` calls, drawn from a ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def randbelow(self, n: int) -> int:
        return self.rng.randrange(n)

    def randbits(self, k: int) -> int:
        return self.rng.getrandbits(k)

    def choice(self, seq):
        return self.rng.choice(seq)


@contextlib.contextmanager
def _seeded_captcha_module(rng: random.Random) -> Iterator[None]:
    """Make ``captcha.image`` draw from ``rng`` (whether it uses ``secrets`` or ``random``)."""
    import captcha.image as module

    saved = {name: getattr(module, name) for name in ("secrets", "random") if hasattr(module, name)}
    if "secrets" in saved:
        module.secrets = _SeededSecrets(rng)
    if "random" in saved:  # captcha < 0.6
        module.random = rng
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


_CAPTCHAS: dict[tuple[int, int], object] = {}  # one ImageCaptcha (fonts loaded once) per size, per process


def _captcha(size: tuple[int, int]):
    from captcha.image import ImageCaptcha

    if size not in _CAPTCHAS:
        _CAPTCHAS[size] = ImageCaptcha(width=size[0], height=size[1])
    return _CAPTCHAS[size]


def undrawable(alphabet: str) -> list[str]:
    """The characters of ``alphabet`` that the ``captcha`` package's fonts have no glyph for, sorted."""
    from .styles.fonts import drawable

    fonts = getattr(_captcha((160, 60)), "_fonts", None)  # (not public: where it is gone, nothing is checked)
    if not fonts or not all(isinstance(f, str) for f in fonts):
        return []
    return sorted({c for c in alphabet if not any(drawable(f, c) for f in fonts)})


def render(label: str, size: tuple[int, int], rng: random.Random):
    """``label`` drawn by the captcha package at ``size`` (width, height), every random draw from ``rng``:
    a PIL RGB image."""
    with _seeded_captcha_module(rng):
        return _captcha(size).generate_image(label)


def draw(seed: int, i: int, alphabet: str, lengths: tuple[int, int], size: tuple[int, int]):
    """Image ``i`` of seed ``seed``: ``(label, PIL RGB image of size (width, height))``."""
    rng = random.Random(f"captcha-ocr/{seed}/{i}")
    label = "".join(rng.choice(alphabet) for _ in range(rng.randint(*lengths)))
    return label, render(label, size, rng)


def _make_chunk(seed: int, alphabet: str, lengths: tuple[int, int], size: tuple[int, int], indices: range,
                out: str) -> list[tuple[str, str]]:
    rows = []
    for i in indices:
        label, image = draw(seed, i, alphabet, lengths, size)
        name = f"{i:06d}.png"
        image.save(os.path.join(out, name), compress_level=1)
        rows.append((name, label))
    return rows


def generate(
    out: str | os.PathLike,
    count: int,
    lengths: tuple[int, int] = (4, 5),
    alphabet: str = DEFAULT_ALPHABET,
    size: tuple[int, int] = (160, 60),
    seed: int = 0,
    workers: int | None = None,
    progress: bool | Callable[[int], None] = False,
) -> list[Sample]:
    """Write ``count`` captchas of ``size`` (width, height) and ``labels.csv`` into ``out``, with
    label lengths drawn from ``lengths`` = (shortest, longest).

    ``workers`` processes draw the images (default: one per CPU); ``progress`` is ``True`` for a
    progress bar, or a callback given the number of images finished since its last call.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    if not alphabet:
        raise ValueError("alphabet is empty")
    odd = sorted({c for c in alphabet if c.isspace() or not c.isprintable() or unicodedata.combining(c)})
    if odd:  # a label is read back without the space around it, and a combining mark joins the letter before
        raise ValueError(f"--alphabet: characters a label cannot hold on its own: {odd}")
    repeated = sorted(c for c in set(alphabet) if alphabet.count(c) > 1)
    if repeated:  # each would be drawn as many times more often as it is given, which nothing says
        raise ValueError(f"--alphabet: {repeated} given more than once; give each character once")
    missing = undrawable(alphabet)
    if missing:  # drawn as the font's empty box: every such character would look the same
        raise ValueError(f"--alphabet: the captcha package's font has no glyph for {missing}; use --style (its "
                         f"fonts draw more scripts) or label real images")
    lo, hi = lengths = tuple(lengths)
    if lo < 1 or hi < lo:
        raise ValueError(f"bad length range {lo}-{hi}: expected N-M with 1 <= N <= M")
    make_chunk = functools.partial(_make_chunk, seed, alphabet, lengths, tuple(size))
    return write_dataset(out, count, make_chunk, workers=workers, progress=progress)


def hide_labels(folder: str | os.PathLike, prefix: str = "img_") -> dict[str, str]:
    """Turn a generated folder into unlabelled images, as a user scrapes them: rename every image
    to ``{prefix}0000.png``, ... (in the manifest's order), delete ``labels.csv``, and return
    ``{new file name: its true label}`` (to score a labelling session or pseudo-labels against)."""
    from .samples import find_samples

    folder = Path(folder)
    truth = {}
    for i, sample in enumerate(find_samples(folder)):
        name = f"{prefix}{i:04d}{sample.path.suffix}"
        sample.path.rename(folder / name)
        truth[name] = sample.label
    (folder / "labels.csv").unlink()
    return truth
