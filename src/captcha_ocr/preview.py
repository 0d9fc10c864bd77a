"""What the model sees: a grid of samples after preprocessing and, optionally, augmentation.

Images go through the same steps as in training: the preset's :class:`~captcha_ocr.images.Preprocess`
at the size ``train`` would pick (:func:`~captcha_ocr.geometry.choose_geometry` over the training
split for the default preset) and the vertical zoom it would read them at (chosen by the general model
from the training split, :func:`~captcha_ocr.zooms.choose_zoom`, when the preset starts from it), then
normalisation and the chosen augmentation, then back to pixels for display.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .augment import ALBU_LEVELS, albumentations_pipeline, augment_batch, check_level
from .config import frame_width, get_preset
from .errors import DataError, ImageLoadError, MissingExtraError
from .geometry import choose_geometry
from .images import Preprocess, header_size, spaced_images
from .margins import FULL, crop_image, crop_size, describe_crop
from .plots import BLACK, image_grid, save_png, to_uint8
from .samples import IMAGE_EXTENSIONS, find_manifest, find_samples, once_each, split_samples
from .shipped import SCRATCH, SHIPPED_INPUT_SIZE, is_shipped_name

if TYPE_CHECKING:
    from .bundle import Bundle
    from .charset import Charset


@dataclass
class PreviewResult:
    path: Path
    size: tuple[int, int]  # (width, height) of the PNG in pixels
    images: int
    model_input: tuple[int, int]  # (height, width)
    augment: str
    zoom: float = 1.0  # the vertical zoom the images were drawn at (Preprocess.zoom)
    zoom_note: str = ""  # how that zoom was decided, in words
    crop: tuple[float, ...] = FULL  # the box of each image drawn (Preprocess.crop)


def preview(
    data: str | os.PathLike,
    out: str | os.PathLike,
    augment: str = "none",
    count: int = 16,
    preset: str = "default",
    seed: int = 0,
    cols: int = 4,
    label_pattern: str | None = None,
    zoom: float | None = None,
    crop: tuple[float, float, float, float] | None = None,
    init: str | None = None,
    case: str = "keep",
    label_order: str = "typed",
) -> PreviewResult:
    """Draw ``count`` random samples of ``data`` as the model gets them into the PNG ``out``.

    ``init``, ``case`` and ``label_order`` are ``train``'s: the model a run starts from (``None``: the
    preset's start; ``"none"``: random weights), whose input height and preprocessing it keeps, and how
    the labels the zoom is chosen with are cased and ordered. ``crop`` (as ``train --crop``) cuts each
    image to a box first; ``None`` takes the box ``train`` would (:func:`~captcha_ocr.margins.start_crop`).
    ``zoom`` (as ``train --zoom``) zooms the rows before resizing; ``None`` takes the zoom ``train``
    would: chosen from the training split when the run starts from the general model, the start model's
    own otherwise, 1 from random weights.
    With ``augment`` other than ``none``, each cell shows the preprocessed image and below it one
    augmented draw. Raises :class:`DataError` when no image can be read.
    """
    check_level(augment)
    if count < 1:
        raise ValueError("count must be at least 1")
    if cols < 1:
        raise ValueError(f"--cols: at least 1, got {cols}")
    if (Path(out).resolve().parent == Path(data).resolve() and Path(out).suffix.lower() in IMAGE_EXTENSIONS
            and find_manifest(Path(data)) is None):  # (a manifest does not list it: it stays out of the data)
        raise ValueError(f"--out {out}: in the data folder it would be read as a captcha labelled "
                         f"{Path(out).stem!r}; write it elsewhere")
    if zoom is not None and zoom <= 0:
        raise ValueError(f"zoom must be positive, got {zoom}")
    p = get_preset(preset)
    source = None if init == SCRATCH else init or p.init
    samples, _twice = once_each(find_samples(data, label_pattern))  # each file once, as `train` splits
    sizes = {s.path: header_size(s.path) for s in samples}
    train_s, _ = split_samples([s for s in samples if sizes[s.path]], p.train.val_fraction, p.train.seed)
    if not train_s:
        raise DataError(f"{data}: no readable images")
    from .bundle import load_bundle
    from .charset import Charset

    # the model `train` would start from: read when the box or the zoom is left to it, or for its input size
    # and preprocessing when it is not a shipped model (whose size is known without reading it)
    need_start = source is not None and (crop is None or zoom is None or not is_shipped_name(source))
    start = load_bundle(source) if need_start else None
    if start is not None:
        p = p.starting_from(start)
    start_size = (start.preprocess.height, start.preprocess.width) if start is not None else \
        SHIPPED_INPUT_SIZE.get(source)
    crop = _train_crop(start, train_s) if crop is None else crop
    if p.image_size is None:  # as `train` does: median size of the training split
        g = choose_geometry([crop_size(sizes[s.path], crop) for s in train_s], [s.label for s in train_s],
                            frame_width(p.model.stages), start_size=start_size)
        height, width = g.height, g.width
    else:
        height, width = p.image_size
    charset = Charset.from_labels([s.label for s in samples if s.label], case, label_order)
    zoom, zoom_note = (zoom, "--zoom") if zoom is not None else _train_zoom(source, start, train_s, crop, charset)
    pre = Preprocess.for_preset(p, height, width, zoom, crop)

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
    title = (f"{Path(data).name}: {len(cells)} image(s) at {height}x{width}x{pre.channels}"
             + (f", cut to {describe_crop(crop)}" if crop != FULL else "")
             + (f", rows zoomed {zoom:g}x" if zoom != 1 else "") + f", preset {p.name}"
             + (f", top: as preprocessed, bottom: --augment {augment}" if augment != "none" else ""))
    sheet = image_grid(cells, captions, cols=cols, title=title)
    path = save_png(sheet, out)
    return PreviewResult(path, sheet.size, len(cells), (height, width), augment, zoom, zoom_note, tuple(crop))


def _train_crop(start: Bundle | None, train_s: list) -> tuple[float, ...]:
    """The box ``train`` (no ``--crop``) would cut ``train_s``'s images to from the start model ``start``
    (``None``: random weights; :func:`~captcha_ocr.margins.start_crop`)."""
    from .margins import CHOOSE_ON, choose_crop, start_crop

    rule = start_crop(None, start)
    return choose_crop(spaced_images(train_s, CHOOSE_ON)[0]) if rule == "auto" else rule


def _train_zoom(init: str | None, start: Bundle | None, train_s: list, crop: tuple[float, ...],
                charset: Charset) -> tuple[float, str]:
    """The zoom ``train`` (no ``--zoom``) would read ``train_s`` (cut to ``crop``) at from the start model
    ``init``, loaded as ``start`` (:func:`~captcha_ocr.zooms.start_zoom`, the rule ``train`` uses), and how
    it was decided. The general model chooses from the training images ``train``'s choice reads (at most
    :data:`~captcha_ocr.zooms.CHOOSE_ON`, evenly spaced), their labels cased and ordered by ``charset``
    as ``train`` learns them."""
    from .zooms import CHOOSE_ON, ZoomChoice, describe_choice, start_zoom

    choices: list[ZoomChoice] = []
    rule = start_zoom(None, start, choices.append)
    if not callable(rule):
        return rule, "random weights: no zoom" if init is None else f"{init}'s own zoom"
    images, labels = spaced_images(train_s, CHOOSE_ON)
    images = [crop_image(image, crop) for image in images]
    if not images:
        return 1.0, "no readable training image to choose a zoom from"
    zoom = rule(images, [charset.as_drawn(charset.apply_case(label)) for label in labels])
    return zoom, f"chosen by {init} as train would, from its {describe_choice(choices[0])}"


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
