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
from typing import TYPE_CHECKING, NamedTuple

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
SIGN_TEST_P = 0.05  # ... and read more images better than worse than 1x, beyond chance (a one-sided sign test)
# a start model that misreads this share of the characters at every zoom cannot rank them (ranks_zooms)
UNREADABLE_CER = 0.5
# a start model that knows under this share of the labels' characters reads nothing there to choose by (knows_script)
KNOWN_CHARS_MIN = 0.5


class ZoomChoice(NamedTuple):
    """What :func:`choose_zoom` decided, and from what."""

    zoom: float
    rates: dict[float, float]  # each candidate's character error rate, case ignored
    better_worse: dict[float, tuple[int, int]]  # each candidate's images read with fewer / more errors than at 1x
    known: float = 1.0  # the share of the labels' characters the start model has in its charset (either case)


def sign_test(better: int, worse: int) -> float:
    """The one-sided sign test's p-value: the chance of at least ``better`` of ``better + worse``
    images read better if better and worse were equally likely (1 when none differ)."""
    n = better + worse
    return sum(math.comb(n, k) for k in range(better, n + 1)) / 2 ** n if n else 1.0


def choose_zoom(recognizer: Recognizer, images: Sequence[Image.Image], labels: Sequence[str],
                candidates: Sequence[float] = FINE_TUNE_ZOOMS, limit: int = CHOOSE_ON) -> ZoomChoice:
    """The zoom a fine-tune of ``recognizer`` (the general model) should read a site at: of
    ``candidates``, the one at which it reads the labelled ``images`` (at most ``limit`` of them) with
    the lowest character error rate, case ignored. A zoom other than 1 must also read clearly more of
    the images better than worse than at 1 (:func:`sign_test` under :data:`SIGN_TEST_P`), since a
    crop that helps most images can cut the glyphs of a site that draws text at any height; and one
    nearer 1 is kept unless another reads :data:`CER_TIE` better. Small text in a tall image reads
    better zoomed in, and its fine-tune then learns from more rows per glyph. 1 is always read, and may
    be chosen, whether or not it is a candidate: the others are compared with it. When it misreads
    :data:`UNREADABLE_CER` of the characters or more at every zoom, its error rates cannot rank them
    (:func:`ranks_zooms`), and the largest zoom that does not read clearly more images worse than 1x
    (:func:`cuts_glyphs`) is taken. A start model that knows under :data:`KNOWN_CHARS_MIN` of the labels'
    characters (a script it never learned) reads nothing to choose by: 1, unread (:func:`knows_script`).
    ``recognizer.zooms`` is left as it was."""
    from .metrics import edit_distance
    from .samples import evenly_spaced

    images, truths = evenly_spaced(images, limit), [t.casefold() for t in evenly_spaced(labels, limit)]
    chars = sum(map(len, truths))
    charset = recognizer.charset
    known = sum(c in charset or c.swapcase() in charset for t in truths for c in t) / chars if chars else 1.0
    unread = ZoomChoice(1.0, {}, {}, known)
    if not knows_script(unread):
        return unread
    before = recognizer.zooms
    errors: dict[float, list[int]] = {}
    try:
        for zoom in (1.0, *(z for z in candidates if z != 1.0)):
            recognizer.zooms = (zoom,)
            errors[zoom] = [edit_distance(t, p.text.casefold()) for t, p in zip(truths, recognizer.predict(images))]
    finally:
        recognizer.zooms = before
    rates = {z: sum(e) / chars if chars else float(sum(e) > 0) for z, e in errors.items()}
    better_worse = {z: (sum(b < a for a, b in zip(errors[1.0], e)), sum(b > a for a, b in zip(errors[1.0], e)))
                    for z, e in errors.items()}
    at_1 = ZoomChoice(1.0, rates, better_worse, known)
    if not ranks_zooms(at_1):  # readings too wrong to rank the zooms by their error rates
        return at_1._replace(zoom=max(z for z in rates if not cuts_glyphs(better_worse[z])))
    nearest_first = sorted((z for z in rates if z == 1.0 or sign_test(*better_worse[z]) < SIGN_TEST_P),
                           key=lambda z: abs(math.log(z)))
    best = nearest_first[0]
    for zoom in nearest_first[1:]:
        if rates[zoom] < rates[best] - CER_TIE:
            best = zoom
    return ZoomChoice(best, rates, better_worse, known)


def knows_script(choice: ZoomChoice) -> bool:
    """Whether the start model has most of the labels' characters (:data:`KNOWN_CHARS_MIN`). One that does
    not, of a script it never learned (`hebrew`, `arabic`), misreads them all at every zoom, so its
    readings say nothing of how a zoom cuts the glyphs: :func:`choose_zoom` keeps 1x, where the fallback of
    :func:`ranks_zooms` had cropped `arabic`'s words at 1.41x (bench/RESULTS.md, session 51)."""
    return choice.known >= KNOWN_CHARS_MIN


def ranks_zooms(choice: ZoomChoice) -> bool:
    """Whether the start model read the labelled images well enough at some zoom (a CER under
    :data:`UNREADABLE_CER`) for ``choice`` to rest on its error rates. When it did not, :func:`choose_zoom`
    takes the largest zoom that does not cut the glyphs (:func:`cuts_glyphs`), which gives each glyph the
    most input rows: of the 22 benchmark sets `gvcode`, `multicolor` and `kaptcha` are read that badly;
    the first two trained better at 1.41x than at the zoom the rates picked, and `kaptcha`, whose readings
    got worse on most images zoomed in, better at 1x (bench/RESULTS.md, sessions 48-50)."""
    return min(choice.rates.values()) < UNREADABLE_CER


def cuts_glyphs(better_worse: tuple[int, int]) -> bool:
    """Whether a zoom read clearly more images worse than better than 1x (``better_worse``; the
    :func:`sign_test` under :data:`SIGN_TEST_P`): a crop into glyphs that fill the height, which
    readings that are mostly wrong still show."""
    better, worse = better_worse
    return sign_test(worse, better) < SIGN_TEST_P


def describe_choice(choice: ZoomChoice) -> str:
    """``choice``'s evidence in words, for a log: each zoom's CER, and the images it read better and
    worse than 1x; and, when :func:`ranks_zooms` is false, that the chooser took the largest zoom that does
    not cut the glyphs for that reason, and which zooms did."""
    if not knows_script(choice):
        return (f"none read: the start model knows {choice.known:.0%} of the labels' characters, a script it never "
                f"learned, so its readings could not choose a zoom: 1x")
    text = ("character error rates " + ", ".join(f"{z:g}x {r:.3f}" for z, r in choice.rates.items())
            + "; images read better / worse than at 1x: "
            + ", ".join(f"{z:g}x {b} / {w}" for z, (b, w) in choice.better_worse.items() if z != 1.0))
    if not ranks_zooms(choice):
        least = math.floor(100 * min(choice.rates.values()))
        text += (f"; the start model misreads {least}% or more of the characters at every zoom, too many for its "
                 f"error rates to rank the zooms, so it takes the largest zoom that does not read clearly more "
                 f"images worse than 1x (a crop into the glyphs), {choice.zoom:g}x")
        cut = [f"{z:g}x" for z, bw in choice.better_worse.items() if cuts_glyphs(bw)]
        text += f" ({', '.join(cut)} did)" if cut else ", which gives each glyph the most rows"
    return text


def start_zoom(zoom: float | None, init: Bundle | None, on_choice: Callable[[ZoomChoice], None] | None = None,
               ) -> float | Callable[[Sequence[Image.Image], Sequence[str]], float]:
    """The input zoom of a run from the model ``init`` (``None``: random weights): ``zoom`` when given;
    else 1 from random weights, a trained model's own zoom, or, from the general model, a chooser that
    picks it from the labelled images and their labels (:func:`choose_zoom`) and tells ``on_choice``
    its :class:`ZoomChoice`. What ``train`` and ``preview`` both use."""
    from .shipped import is_general

    if zoom is not None:
        return zoom
    if init is None:
        return 1.0
    if not is_general(init.provenance):
        return init.preprocess.zoom

    def choose(images: Sequence[Image.Image], labels: Sequence[str]) -> float:
        from .recognizer import Recognizer

        choice = choose_zoom(Recognizer(init), images, labels)
        if on_choice is not None:
            on_choice(choice)
        return choice.zoom

    return choose
