"""The model's input size, chosen from the training images and labels (torch-free).

CTC needs at least one frame per character plus one between each doubled letter, and learns
far more easily with about two frames per character; thin strokes need some height to survive
resizing; and the cost of a step grows with the number of input pixels. :func:`choose_geometry`
weighs the three: height from the images (tiny images are upsampled, tall ones scaled down),
width from the aspect ratio, then the whole image scaled down to a pixel budget (wide images
cost no more than a typical captcha) and the width stretched where the longest label would
otherwise get too few frames (a rare label far longer than the rest, most likely a mistake, does
not count: :func:`usual_need`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .charset import min_ctc_frames


@dataclass(frozen=True)
class Geometry:
    """A chosen input size with the reasons, for the training log."""

    height: int
    width: int
    min_frames: int  # frames the longest label wants (2 per character, at least ``MIN_FRAMES``)
    notes: tuple[str, ...] = ()


MIN_HEIGHT = 32
MAX_HEIGHT = 64
PIXEL_BUDGET = 64 * 208  # about a 200x50 captcha at full size
MIN_FRAMES = 16
# a fine-tune reads better with more frames than the general model's 24 (48x192): 32 frames (256 px)
# lifted rkn_securimage from 62.0% to 66.5% at 100 labels and from 87.0% to 90.5% at 800 (mean of three
# seeds), and left the other real sets level at 100 labels (bench/RESULTS.md, "The fine-tune's input
# width: 32 frames")
FINETUNE_MIN_FRAMES = 32


def choose_geometry(
    sizes: Iterable[tuple[int, int]],
    labels: Iterable[str],
    width_per_frame: int = 8,
    min_height: int = MIN_HEIGHT,
    max_height: int = MAX_HEIGHT,
    pixel_budget: int = PIXEL_BUDGET,
    start_size: tuple[int, int] | None = None,
) -> Geometry:
    """``(height, width)`` of the model input for images of ``(width, height)`` ``sizes``.

    The median image is scaled so its height lies in ``[min_height, max_height]`` (aspect kept),
    then down to ``pixel_budget`` pixels (never below ``min_height``); the width is then
    stretched, if needed, to give ``2 * min_ctc_frames + 2`` frames (at least ``MIN_FRAMES``)
    for the longest label. ``start_size``, the ``(height, width)`` of the model a fine-tune starts
    from, fixes the height to its own and keeps the width no narrower than its own (a start model
    reads best at no less than the width it was trained at) nor than ``FINETUNE_MIN_FRAMES`` frames.
    Height is a multiple of 4, width of ``width_per_frame``.
    """
    min_width = 0
    if start_size is not None:
        min_height = max_height = start_size[0]
        min_width = max(start_size[1], FINETUNE_MIN_FRAMES * width_per_frame)
    sizes = list(sizes)
    if not sizes:
        raise ValueError("no image sizes given")
    labels = list(labels)
    need, outliers = usual_need(labels)
    min_frames = max(MIN_FRAMES, 2 * need + 2)
    w0 = float(np.median([w for w, _ in sizes]))
    h0 = float(np.median([h for _, h in sizes]))
    notes: list[str] = []
    if outliers:
        longest = max(outliers, key=min_ctc_frames)
        shown = longest if len(longest) <= 24 else longest[:24] + "..."
        notes.append(f"{len(outliers)} label(s) far longer than the rest (longest {shown!r}, "
                     f"{min_ctc_frames(longest)} frames) left out of the choice: "
                     f"the width is for labels of up to {need} frames (a label that does not fit is refused "
                     f"below, with its file)")
    scale = min(max(h0, min_height), max_height) / h0
    if scale > 1:
        notes.append(f"upsampled {scale:.2f}x (images are {h0:.0f} px high)")
    area = (h0 * scale) * (w0 * scale)
    if area > pixel_budget:
        budget_scale = max((pixel_budget / area) ** 0.5, min_height / (h0 * scale))
        if budget_scale < 1:
            scale *= budget_scale
            notes.append(f"scaled to about {pixel_budget:,} pixels")
    height = max(min_height, int(round(h0 * scale / 4)) * 4)
    width = max(width_per_frame, int(round(w0 * scale / width_per_frame)) * width_per_frame)
    if width // width_per_frame < min_frames:
        width = min_frames * width_per_frame
        notes.append(f"stretched to {min_frames} frames for labels of up to {need} frames")
    min_width = -(-min_width // width_per_frame) * width_per_frame
    if width < min_width:
        width = min_width
        notes.append(f"widened to {width} px for a fine-tune (at least the start model's {start_size[1]} px "
                     f"and {FINETUNE_MIN_FRAMES} frames)")
    return Geometry(height, width, min_frames, tuple(notes))


# a label needing more than this multiple of the frames of the usual long label (the 90th percentile)
# is an outlier: most likely a mistake (a file name that is not its text), and it must not stretch every
# image (one 60-character label among 5-character ones made a 976 px wide input that never learned)
OUTLIER_FACTOR = 2.0


def usual_need(labels: Sequence[str]) -> tuple[int, list[str]]:
    """The frames the longest label needs (:func:`~captcha_ocr.charset.min_ctc_frames`), leaving out
    labels that need over ``OUTLIER_FACTOR`` times the 90th percentile's; and those left out."""
    frames = [min_ctc_frames(label) for label in labels]
    if not frames:
        return 1, []
    bound = OUTLIER_FACTOR * float(np.percentile(frames, 90, method="higher"))
    outliers = [label for label, f in zip(labels, frames) if f > bound]
    return max(f for f in frames if f <= bound), outliers
