"""What the model sees: a grid of samples after preprocessing and, optionally, augmentation.

Images go through the same steps as in training: the preset's :class:`~captcha_ocr.images.Preprocess`
at the size ``train`` would pick (:func:`~captcha_ocr.geometry.choose_geometry` over the training
split for the default preset), then normalisation and the chosen augmentation, then back to
pixels for display.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .augment import ALBU_LEVELS, albumentations_pipeline, augment_batch, check_level
from .config import frame_width, get_preset
from .errors import DataError, ImageLoadError, MissingExtraError
from .geometry import choose_geometry
from .images import Preprocess
from .plots import BLACK, image_grid, save_png, to_uint8
from .samples import find_samples, split_samples
from .shipped import SHIPPED_INPUT_SIZE


@dataclass
class PreviewResult:
    path: Path
    size: tuple[int, int]  # (width, height) of the PNG in pixels
    images: int
    model_input: tuple[int, int]  # (height, width)
    augment: str


def _header_size(path: Path) -> tuple[int, int] | None:
    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, SyntaxError, ValueError):
        return None


def preview(
    data: str | os.PathLike,
    out: str | os.PathLike,
    augment: str = "none",
    count: int = 16,
    preset: str = "default",
    seed: int = 0,
    cols: int = 4,
    label_pattern: str | None = None,
) -> PreviewResult:
    """Draw ``count`` random samples of ``data`` as the model gets them into the PNG ``out``.

    With ``augment`` other than ``none``, each cell shows the preprocessed image and below it
    one augmented draw. Raises :class:`DataError` when no image can be read.
    """
    check_level(augment)
    if count < 1:
        raise ValueError("count must be at least 1")
    p = get_preset(preset)
    samples = find_samples(data, label_pattern)
    if p.image_size is None:  # as `train` does: median size of the training split
        sizes = {s.path: _header_size(s.path) for s in samples}
        train_s, _ = split_samples([s for s in samples if sizes[s.path]], p.train.val_fraction, p.train.seed)
        if not train_s:
            raise DataError(f"{data}: no readable images")
        g = choose_geometry([sizes[s.path] for s in train_s], [s.label for s in train_s], frame_width(p.model.stages),
                            start_size=SHIPPED_INPUT_SIZE.get(p.init))
        height, width = g.height, g.width
    else:
        height, width = p.image_size
    pre = Preprocess.for_preset(p, height, width)

    arrays, labels = [], []
    for i in np.random.RandomState(seed).permutation(len(samples)):
        try:
            arrays.append(pre.load(samples[i].path))
        except ImageLoadError:
            continue
        labels.append(samples[i].label)
        if len(arrays) == count:
            break
    if not arrays:
        raise DataError(f"{data}: no readable images")
    batch = np.stack(arrays)  # uint8 [B, C, H, W]
    cells = [[im] for im in batch]
    if augment != "none":
        cells = [[a, b] for a, b in zip(batch, _augmented(batch, pre, augment, seed))]
    captions = [[(repr(label), BLACK)] for label in labels]
    title = f"{Path(data).name}: {len(cells)} image(s) at {height}x{width}x{pre.channels}, preset {p.name}" + (
        f", top: as preprocessed, bottom: --augment {augment}" if augment != "none" else ""
    )
    sheet = image_grid(cells, captions, cols=cols, title=title)
    path = save_png(sheet, out)
    return PreviewResult(path, sheet.size, len(cells), (height, width), augment)


def _augmented(batch: np.ndarray, pre: Preprocess, level: str, seed: int) -> np.ndarray:
    """uint8 ``[B, C, H, W]`` -> the same images after augmentation ``level``, uint8."""
    import torch

    if level in ALBU_LEVELS:  # per image on uint8 [H, W, C], before normalisation (as in training)
        try:
            apply = albumentations_pipeline(level, seed)
        except ImportError as exc:  # its message names the extra to install
            raise MissingExtraError(str(exc), name=exc.name) from None
        return np.stack([apply(np.ascontiguousarray(im.transpose(1, 2, 0))).transpose(2, 0, 1) for im in batch])
    x = pre.normalize(torch.from_numpy(batch))
    x = augment_batch(x, level, generator=torch.Generator().manual_seed(seed))
    return to_uint8(x, pre.mean, pre.std)


__all__ = ["preview", "PreviewResult"]
