"""Reading one image at several input widths, and keeping the reading they agree on.

The general model was pretrained with every image squeezed to one size (48x192), so how wide a
site's glyphs reach it depends on the site's aspect ratio and how many characters it draws: a
92x34 image of 4 wide capitals is stretched 1.6x, a 124x24 one squeezed. Read at the width that
brings its glyphs back to the widths it learned, such a site reads far better. No one width suits
every site, so the recogniser reads each image at a ladder of widths (thirds of an octave around
the model's own) and keeps the text with the most probability summed over them.

:func:`width_ladder` gives the widths; :func:`vote` combines the readings. The model is
convolutional and recurrent over the frames, so it reads any width with the same weights (and so
does an ONNX export made with ``--any-width``, the general model's always).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .recognizer import Prediction

# the general model's: thirds of an octave around its width, 0.31x to 1.59x (for 192 px: 64 ... 304)
LADDER_STEPS = tuple(range(-5, 3))
# ``--widths near``, for a model trained on one site: sixths of an octave, 0.79x to 1.26x (256 px: 200 ... 320)
NEAR_STEPS = tuple(range(-2, 3))
WIDTH_MULTIPLE = 8  # every width a whole number of the model's 8-px frames


def width_ladder(width: int, steps: Sequence[int] = LADDER_STEPS, per_octave: int = 3,
                 multiple: int = WIDTH_MULTIPLE) -> tuple[int, ...]:
    """The widths, in pixels, to read at for a model trained at ``width``: ``width * 2**(k /
    per_octave)`` for each ``k`` of ``steps``, rounded to a multiple of ``multiple``, ascending,
    without repeats."""
    return tuple(sorted({max(multiple, round(width * 2 ** (k / per_octave) / multiple) * multiple)
                         for k in steps}))


def near_widths(width: int) -> tuple[int, ...]:
    """Five widths around a trained model's own (``--widths near``): sixths of an octave."""
    return width_ladder(width, NEAR_STEPS, per_octave=6)


def vote(readings: Sequence[Sequence[Prediction]]) -> tuple[list[Prediction], list[int]]:
    """``readings[w][i]``: image ``i`` read at the ``w``-th width -> per image, the text whose
    confidences summed over the widths are highest, and which width read it most confidently.

    The kept :class:`Prediction` is that width's (its character confidences and source), with the
    confidence replaced by the summed one divided by the number of widths: the probability of the
    text under an even mixture of the widths, counting a width that read another text as giving it
    none. A text read at one width only thus scores lower than the same confidence read at all.
    """
    from dataclasses import replace

    if not readings:
        return [], []
    n_widths = len(readings)
    kept: list[Prediction] = []
    chosen: list[int] = []
    for i in range(len(readings[0])):
        total: dict[str, float] = {}
        best: dict[str, int] = {}
        for w in range(n_widths):
            p = readings[w][i]
            total[p.text] = total.get(p.text, 0.0) + p.confidence
            if p.text not in best or p.confidence > readings[best[p.text]][i].confidence:
                best[p.text] = w
        text = max(total, key=lambda t: (total[t], readings[best[t]][i].confidence))
        w = best[text]
        kept.append(replace(readings[w][i], confidence=total[text] / n_widths))
        chosen.append(w)
    return kept, chosen
