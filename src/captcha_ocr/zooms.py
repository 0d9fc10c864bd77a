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

A fine-tune from the general model reads its site at one zoom, :attr:`Preprocess.zoom
<captcha_ocr.images.Preprocess.zoom>`, kept in the model file: :func:`choose_zoom` picks it from the
labelled images, so a site whose text is small in a tall image trains on it zoomed in, with more of
the 48 input rows on each glyph.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from .bundle import Bundle
    from .recognizer import Recognizer

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


# the zooms a fine-tune from the general model chooses among (choose_zoom): none, and a quarter and a
# half octave in (measured in bench/RESULTS.md, "Session 29")
FINE_TUNE_ZOOMS = zoom_ladder((0, 1, 2))
CHOOSE_ON = 100  # labelled images at most that choose_zoom reads (evenly spaced)
CER_TIE = 0.01  # a zoom must read this much better (CER) than one nearer 1 to be chosen


def choose_zoom(recognizer: Recognizer, images: Sequence[Image.Image], labels: Sequence[str],
                candidates: Sequence[float] = FINE_TUNE_ZOOMS,
                limit: int = CHOOSE_ON) -> tuple[float, dict[float, float]]:
    """The zoom a fine-tune of ``recognizer`` (the general model) should read a site at: of
    ``candidates``, the one at which it reads the labelled ``images`` (at most ``limit`` of them) with
    the lowest character error rate, case ignored; one nearer 1 is kept unless another reads
    :data:`CER_TIE` better. Small text in a tall image reads better zoomed in, and its fine-tune then
    learns from more rows per glyph. Returns the zoom and each candidate's CER; ``recognizer.zooms``
    is left as it was."""
    from .metrics import character_error_rate

    step = max(1, -(-len(images) // limit))
    images, truths = list(images)[::step], [t.casefold() for t in list(labels)[::step]]
    before = recognizer.zooms
    rates: dict[float, float] = {}
    try:
        for zoom in candidates:
            recognizer.zooms = (zoom,)
            texts = [p.text.casefold() for p in recognizer.predict(images)]
            rates[zoom] = character_error_rate(truths, texts)
    finally:
        recognizer.zooms = before
    nearest_first = sorted(rates, key=lambda z: abs(math.log(z)))
    best = nearest_first[0]
    for zoom in nearest_first[1:]:
        if rates[zoom] < rates[best] - CER_TIE:
            best = zoom
    return best, rates


def start_zoom(zoom: float | None, init: Bundle | None,
               on_choice: Callable[[float, dict[float, float]], None] | None = None,
               ) -> float | Callable[[Sequence[Image.Image], Sequence[str]], float]:
    """The input zoom of a run from the model ``init`` (``None``: random weights): ``zoom`` when given;
    else 1 from random weights, a trained model's own zoom, or, from the general model, a chooser that
    picks it from the labelled images and their labels (:func:`choose_zoom`) and tells ``on_choice``
    the zoom and each candidate's CER. What ``train`` and ``preview`` both use."""
    from .shipped import is_general

    if zoom is not None:
        return zoom
    if init is None:
        return 1.0
    if not is_general(init.provenance):
        return init.preprocess.zoom

    def choose(images: Sequence[Image.Image], labels: Sequence[str]) -> float:
        from .recognizer import Recognizer

        chosen, rates = choose_zoom(Recognizer(init), images, labels)
        if on_choice is not None:
            on_choice(chosen, rates)
        return chosen

    return choose
