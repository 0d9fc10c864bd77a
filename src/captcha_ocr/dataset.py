"""Training data: labelled samples -> train and validation images held in memory -> batches.

:func:`prepare_data` reads the samples (bad files are reported and skipped), splits off the
validation set, picks the input size, builds the charset and checks every label fits the
model. Each image is decoded once, resized with the model's
:class:`~captcha_ocr.images.Preprocess` and kept as ``uint8 [N, C, H, W]``; normalisation and
augmentation happen per batch, on the training device.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image

from .charset import Charset, min_ctc_frames
from .config import Preset, feature_map_size, frame_width
from .errors import DataError
from .geometry import choose_geometry
from .images import LoadReport, Preprocess, read_images, to_arrays
from .margins import FULL, choose_crop, crop_image, crop_size, describe_crop
from .samples import (
    Sample,
    evenly_spaced,
    find_samples,
    folder_warnings,
    once_each,
    split_samples,
    val_only_chars,
)
from .zooms import CHOOSE_ON as ZOOM_CHOOSE_ON


@dataclass
class LabelledImages:
    """Resized images ``uint8 [N, C, H, W]`` with their labels and source files."""

    images: np.ndarray
    labels: list[str]
    paths: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def from_samples(
        cls, samples: Sequence[Sample], preprocess: Preprocess, images=None, progress: bool = True
    ) -> tuple[LabelledImages, LoadReport]:
        """Read (unless ``images`` are given), resize and keep; returns the data and the report."""
        if images is None:
            images, report = read_images(samples, progress=progress)
        else:
            report = LoadReport(samples=list(samples), sizes=[im.size for im in images])
        arrays = to_arrays(images, preprocess)
        return cls(arrays, [s.label for s in report.samples], [str(s.path) for s in report.samples]), report


class TorchDataset(torch.utils.data.Dataset):
    """Index -> ``(uint8 [C, H, W] tensor, label ids list, index)``.

    ``transform``, if given, is a per-image augmentation on uint8 ``[H, W, C]`` numpy arrays
    (see :func:`~captcha_ocr.augment.albumentations_pipeline`); only training data gets one.
    """

    def __init__(
        self, data: LabelledImages, charset: Charset, transform: Callable[[np.ndarray], np.ndarray] | None = None
    ) -> None:
        self.images = torch.from_numpy(data.images)
        self.targets = [charset.encode_one(charset.as_drawn(label)) for label in data.labels]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        image = self.images[i]
        if self.transform is not None:
            out = self.transform(np.ascontiguousarray(image.numpy().transpose(1, 2, 0)))
            image = torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1)))
        return image, self.targets[i], i


def collate(batch):
    """-> ``images uint8 [B, C, H, W]``, ``targets long [B, L_max]`` (0-padded), ``lengths [B]``,
    ``indices [B]``."""
    images = torch.stack([b[0] for b in batch])
    lengths = torch.tensor([len(b[1]) for b in batch], dtype=torch.long)
    targets = torch.zeros(len(batch), max(1, int(lengths.max())), dtype=torch.long)
    for row, (_, ids, _) in enumerate(batch):
        targets[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    indices = torch.tensor([b[2] for b in batch], dtype=torch.long)
    return images, targets, lengths, indices


def check_labels(samples: Sequence[Sample], time_steps: int, charset: Charset | None = None) -> None:
    """Refuse empty labels, labels CTC cannot fit in ``time_steps`` frames and, given a
    charset, labels with unknown characters. The error names the files (first 10)."""
    problems: list[str] = []
    for s in samples:
        if not s.label:
            problems.append(f"{s.path}: empty label")
        elif min_ctc_frames(s.label) > time_steps:
            problems.append(
                f"{s.path}: label {s.label!r} needs {min_ctc_frames(s.label)} time steps "
                f"(its length plus one per repeated letter) but the model has {time_steps}; "
                "is the label right? (else use wider images: --width)"
            )
        elif charset is not None and charset.unknown(s.label):
            unknown = charset.unknown(s.label)
            problems.append(f"{s.path}: label {s.label!r} has characters the model does not know: {unknown}")
    if problems:
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise DataError(f"{len(problems)} unusable label(s):\n  " + "\n  ".join(problems[:10]) + more)


def val_only_warnings(train: Sequence[Sample], val: Sequence[Sample], start_chars: Collection[str] = ()) -> list[str]:
    """Warnings for characters that only validation labels hold. No training image shows them, so a
    model from random weights cannot learn them; one started from a model that reads them (whose
    characters are ``start_chars``) keeps what that model knew of them, no more."""
    missing = val_only_chars(train, val)
    new = [c for c in missing if c not in start_chars]
    known = [c for c in missing if c in start_chars]
    lines = []
    if new:
        lines.append(f"warning: characters {new} appear only in the validation data; the model cannot learn them")
    if known:
        lines.append(f"warning: characters {known} appear only in the validation data; the model reads them only "
                     f"as far as the model it starts from did, and training on images without them wears that "
                     f"away: label training images that show them")
    return lines


class TrainingData(NamedTuple):
    """What :func:`prepare_data` returns."""

    train: LabelledImages
    val: LabelledImages
    charset: Charset
    preprocess: Preprocess
    skipped: list[tuple[Path, str]]  # unreadable files (and files listed with two labels) and why


def prepare_data(
    data: str | list[Sample],
    preset: Preset,
    val: str | list[Sample] | None = None,
    height: int | None = None,
    width: int | None = None,
    label_pattern: str | None = None,
    progress: bool = True,
    print_fn=print,
    case: str = "keep",
    start_size: tuple[int, int] | None = None,
    zoom: float | Callable[[list[Image.Image], list[str]], float] = 1.0,
    crop: Sequence[float] | str = FULL,
    start_chars: Collection[str] = (),
    label_order: str = "typed",
) -> TrainingData:
    """A folder (or samples) -> train and validation images, charset and preprocessing.

    ``val`` (a folder or samples) is the validation set; without it, ``preset.train.val_fraction``
    of ``data`` is split off with ``preset.train.seed``. The input size is the preset's, or
    chosen from the training images (``height``/``width`` override either; a ``height`` alone,
    with no size fixed by the preset, gets the width chosen at that height; ``start_size``, a
    fine-tune's start model's ``(height, width)``, fixes the height and bounds the width from
    below; ``start_chars``, the characters it reads, temper the warning of characters only validation
    labels hold). ``crop`` cuts every image to a box first (:class:`Preprocess`), or with ``"auto"``
    cuts off the margins empty in every training image (:func:`~captcha_ocr.margins.choose_crop`).
    ``zoom`` zooms every image's rows before resizing, or chooses that zoom from the (cut) training
    images and their cased labels (as drawn). Labels are cased by the ``case`` policy and learned in
    the ``label_order`` (see :class:`~captcha_ocr.charset.Charset`). Bad files, and files a manifest
    lists twice with different labels, are skipped and reported (a file listed twice alike is used
    once); unusable labels raise :class:`DataError` naming the files.
    """
    samples, skipped = once_each(data if isinstance(data, list) else find_samples(data, label_pattern))
    if not isinstance(data, list):
        for line in folder_warnings(data, samples, label_pattern):
            print_fn(f"warning: {line}")
    images, report = read_images(samples, progress=progress, desc="reading training images")
    skipped += report.skipped
    if not report.samples:
        raise DataError(f"{data}: none of the {len(samples)} images could be read")
    by_path = dict(zip([s.path for s in report.samples], images))
    if val is not None:
        val_list, val_dropped = once_each(val if isinstance(val, list) else find_samples(val, label_pattern))
        if not isinstance(val, list):
            for line in folder_warnings(val, val_list, label_pattern):
                print_fn(f"warning: {line}")
        val_images, val_report = read_images(val_list, progress=progress, desc="reading validation images")
        if val_list and not val_report.samples:
            path, why = val_report.skipped[0]
            raise DataError(f"{val}: none of the {len(val_list)} validation images could be read (first: "
                            f"{why if str(path) in why else f'{path}: {why}'})")
        skipped += val_dropped + val_report.skipped
        train_s, val_s = report.samples, val_report.samples
        both = sorted({s.path.resolve() for s in train_s} & {s.path.resolve() for s in val_s})
        if both:
            print_fn(f"warning: {len(both)} of the {len(val_s)} validation images are training images too "
                     f"(first: {both[0]}); the validation accuracy will read higher than on captchas the "
                     f"model has not seen")
        val_by_path = dict(zip([s.path for s in val_s], val_images))
    else:
        train_s, val_s = split_samples(report.samples, preset.train.val_fraction, preset.train.seed)
        val_by_path = by_path
    if not train_s:
        raise DataError(f"{data}: no training images left after the validation split ({len(val_s)} readable "
                        f"image(s), all held out to validate): label more images, or give the validation "
                        f"images separately (--val-dir)")

    charset = Charset.from_labels([s.label for s in train_s + val_s if s.label], case, label_order)
    train_s = [Sample(s.path, charset.apply_case(s.label)) for s in train_s]
    val_s = [Sample(s.path, charset.apply_case(s.label)) for s in val_s]
    if crop == "auto":
        crop = choose_crop([by_path[s.path] for s in train_s])
        if crop != FULL:
            print_fn(f"input crop: {describe_crop(crop)} of each image, "
                     f"the box that holds every training image's content (the rest is empty margin; "
                     f"--crop none keeps whole images)")
    if height or width or preset.image_size is None:
        # a given height (--height, or an init model's) fixes it: the width is then chosen at that height
        fixed = dict(min_height=height, max_height=height) if height else {}
        geometry = choose_geometry([crop_size(by_path[s.path].size, crop) for s in train_s], [s.label for s in train_s],
                                   frame_width(preset.model.stages), start_size=start_size, **fixed)
        for note in geometry.notes:
            print_fn(f"input size: {note}")
        base_h, base_w = preset.image_size or (geometry.height, geometry.width)
        height, width = height or base_h, width or base_w
    else:
        height, width = preset.image_size
    if callable(zoom):
        chosen = evenly_spaced(train_s, ZOOM_CHOOSE_ON)  # the images the chooser reads, cut only those
        zoom = zoom([crop_image(by_path[s.path], crop) for s in chosen], [charset.as_drawn(s.label) for s in chosen])
    preprocess = Preprocess.for_preset(preset, height, width, zoom, crop)
    check_labels(train_s + val_s, feature_map_size(height, width, preset.model.stages)[1])
    for line in val_only_warnings(train_s, val_s, start_chars):
        print_fn(line)
    train = LabelledImages.from_samples(train_s, preprocess, [by_path[s.path] for s in train_s])[0]
    val_data = LabelledImages.from_samples(val_s, preprocess, [val_by_path[s.path] for s in val_s])[0]
    return TrainingData(train, val_data, charset, preprocess, skipped)
