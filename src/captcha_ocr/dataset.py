"""A labelled dataset held in memory as resized uint8 images, ready for batching.

Reading a folder decodes each image once (bad files are reported and skipped), resizes it
with the model's :class:`~captcha_ocr.data.Preprocess`, and keeps ``uint8 [N, C, H, W]``;
normalisation and augmentation happen per batch, on the training device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .charset import Charset, min_ctc_frames
from .errors import DataError
from .images import LoadReport, Preprocess, read_images, to_arrays
from .samples import Sample


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
        self.targets = [charset.encode_one(label) for label in data.labels]
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
                "use wider images (--width) or shorter labels"
            )
        elif charset is not None and charset.unknown(s.label):
            unknown = charset.unknown(s.label)
            problems.append(f"{s.path}: label {s.label!r} has characters the model does not know: {unknown}")
    if problems:
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise DataError(f"{len(problems)} unusable label(s):\n  " + "\n  ".join(problems[:10]) + more)
