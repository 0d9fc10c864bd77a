"""Empty margins: the part of a site's images that holds its captcha.

Some sites draw the captcha in a band of a larger image: a transparent or plain frame, a screenshot
of the form around it. Squeezed to the model's 48 rows, the text then gets a fraction of them. A run
crops every image to the box that holds the content of all its training images
(:func:`choose_crop`), kept in the model file as :attr:`Preprocess.crop
<captcha_ocr.images.Preprocess.crop>` (fractions of the width and height), so every image is read
as the run trained.

An image's content is what differs from its border colour (the median of its outermost pixels): the
rows and columns with at least :data:`INK_SHARE` of their pixels differing by more than
:data:`INK_LEVEL`. Noise drawn to the edges makes the whole image content, so a site whose noise
reaches the border is never cropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from .bundle import Bundle

FULL = (0.0, 0.0, 1.0, 1.0)  # (left, top, right, bottom) as fractions: the whole image
INK_LEVEL = 40  # a pixel differs from the border colour by more than this (0-255, any channel)
INK_SHARE = 0.005  # a row (column) holds content when this share of its pixels (at least 2) differ
PAD = 0.04  # the crop keeps this share of the width (height) beyond the content on each side
MIN_CUT = 0.2  # crop only when that removes at least this share of the width or the height
CHOOSE_ON = 400  # training images at most that choose_crop looks at (evenly spaced)


def content_box(image: Image.Image) -> tuple[float, float, float, float] | None:
    """The box ``(left, top, right, bottom)``, as fractions of the size, of the rows and columns of
    ``image`` (any mode; transparent pixels count as white) that differ from its border colour;
    ``None`` when none does."""
    from .images import to_mode  # (images imports this module)

    arr = np.asarray(image if image.mode in ("L", "RGB") else to_mode(image), dtype=np.int16)
    if arr.ndim == 2:
        arr = arr[..., None]
    h, w = arr.shape[:2]
    ring = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    ink = (np.abs(arr - np.median(ring, axis=0)).max(axis=2) > INK_LEVEL)
    rows = np.flatnonzero(ink.sum(axis=1) >= max(2, INK_SHARE * w))
    cols = np.flatnonzero(ink.sum(axis=0) >= max(2, INK_SHARE * h))
    if not len(rows) or not len(cols):
        return None
    return cols[0] / w, rows[0] / h, (cols[-1] + 1) / w, (rows[-1] + 1) / h


def choose_crop(images: Sequence[Image.Image], limit: int = CHOOSE_ON) -> tuple[float, float, float, float]:
    """The crop a run's images get: the smallest box holding every image's :func:`content_box` (of at
    most ``limit`` of ``images``, evenly spaced), :data:`PAD` wider on each side; :data:`FULL` unless
    that removes at least :data:`MIN_CUT` of the width or the height."""
    from .samples import evenly_spaced

    boxes = [b for b in map(content_box, evenly_spaced(images, limit)) if b is not None]
    if not boxes:
        return FULL
    left, top = (max(0.0, min(b[i] for b in boxes) - PAD) for i in (0, 1))
    right, bottom = (min(1.0, max(b[i] for b in boxes) + PAD) for i in (2, 3))
    if right - left > 1 - MIN_CUT and bottom - top > 1 - MIN_CUT:
        return FULL
    return tuple(round(float(v), 4) for v in (left, top, right, bottom))


def crop_image(image: Image.Image, box: Sequence[float]) -> Image.Image:
    """``image`` cut to ``box`` (fractions of its size, as :func:`choose_crop` gives); :data:`FULL`
    returns ``image`` itself. At least one pixel is kept each way."""
    if tuple(box) == FULL:
        return image
    w, h = image.size
    left, top = min(int(box[0] * w), w - 1), min(int(box[1] * h), h - 1)
    right, bottom = max(left + 1, round(box[2] * w)), max(top + 1, round(box[3] * h))
    return image.crop((left, top, right, bottom))


def start_crop(crop: Sequence[float] | None, init: Bundle | None) -> tuple[float, ...] | str:
    """The crop of a run from the model ``init`` (``None``: random weights): ``crop`` when given; a
    trained model's own when fine-tuning one; else ``"auto"``, chosen from the training images
    (:func:`choose_crop`). What ``train`` and ``preview`` both use."""
    from .shipped import is_general

    if crop is not None:
        return tuple(crop)
    if init is not None and not is_general(init.provenance):
        return init.preprocess.crop
    return "auto"


def parse_crop(text: str) -> tuple[float, float, float, float] | None:
    """``--crop``: ``auto`` (``None``), ``none`` (:data:`FULL`) or ``LEFT,TOP,RIGHT,BOTTOM`` fractions.
    Raises ``ValueError`` for anything else."""
    if text == "auto":
        return None
    if text == "none":
        return FULL
    try:
        box = tuple(float(v) for v in text.split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or not (0 <= box[0] < box[2] <= 1 and 0 <= box[1] < box[3] <= 1):
        raise ValueError(f"--crop: auto, none, or LEFT,TOP,RIGHT,BOTTOM fractions with 0 <= LEFT < RIGHT <= 1 "
                         f"and 0 <= TOP < BOTTOM <= 1, got {text!r}")
    return box


def crop_size(size: tuple[int, int], box: Sequence[float]) -> tuple[int, int]:
    """The ``(width, height)`` of an image of ``size`` cut to ``box`` (about what :func:`crop_image` keeps)."""
    return max(1, round(size[0] * (box[2] - box[0]))), max(1, round(size[1] * (box[3] - box[1])))


def describe_crop(box: Sequence[float]) -> str:
    """``box`` in words for a log: ``x 0.00-1.00, y 0.24-0.76``."""
    return f"x {box[0]:.2f}-{box[2]:.2f}, y {box[1]:.2f}-{box[3]:.2f}"
