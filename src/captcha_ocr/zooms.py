"""Reading one image at several vertical zooms (the general model's).

The general model was pretrained on images whose text fills 40-90% of their height, never touching
the edges, and squeezed to 48 px high. Real sites frame their text otherwise: some fill the whole
height and cut the descenders (the model then reads a lower-case ``p`` as ``D`` or ``b`` and ``y`` as
``v``), others draw small text in a tall image. Zooming the rows back to the framing it learned
reads such a site far better, and no one zoom suits every site, so the general model reads each
image at a short ladder of zooms (quarters of an octave, 0.71x to 1.41x) as well as at its ladder
of widths, and keeps the reading they agree on (:func:`~captcha_ocr.widths.vote`).

A zoom above 1 crops rows from the top and bottom alike (keeping the middle ``1 / zoom`` of the
height); below 1 it adds rows above and below, each column continued in the median colour of its
two edge rows (the image's own background, so no border appears). Only rows change: the width
ladder handles the other axis.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

# quarters of an octave from 0.71x to 1.41x: the general model's zooms
ZOOM_STEPS = tuple(range(-2, 3))


def zoom_ladder(steps: Sequence[int] = ZOOM_STEPS, per_octave: int = 4) -> tuple[float, ...]:
    """The zooms to read at: ``2 ** (k / per_octave)`` for each ``k`` of ``steps``, ascending."""
    return tuple(sorted({round(2 ** (k / per_octave), 4) for k in steps}))


def zoom_rows(image: Image.Image, zoom: float) -> Image.Image:
    """``image`` (mode ``L`` or ``RGB``, ``H`` rows) with its text ``zoom`` times as tall relative to
    the height: ``zoom > 1`` keeps the middle ``round(H / zoom)`` rows, ``zoom < 1`` adds
    ``round(H * (1 / zoom - 1) / 2)`` rows above and below in each column's edge colour; 1 (or a
    change of no whole row) returns ``image`` itself."""
    if zoom <= 0:
        raise ValueError(f"zoom must be positive, got {zoom}")
    w, h = image.size
    if zoom > 1:
        keep = max(1, round(h / zoom))
        top = (h - keep) // 2
        return image if keep == h else image.crop((0, top, w, top + keep))
    pad = round(h * (1 / zoom - 1) / 2)
    if pad == 0:  # zoom 1 (every trained model's every image): no pixel is touched
        return image
    arr = np.asarray(image)
    edge = min(2, h)
    above = np.median(arr[:edge], axis=0, keepdims=True).astype(np.uint8)
    below = np.median(arr[-edge:], axis=0, keepdims=True).astype(np.uint8)
    rows = np.concatenate([np.repeat(above, pad, 0), arr, np.repeat(below, pad, 0)])
    return Image.fromarray(rows)
