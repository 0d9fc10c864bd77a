"""From files to tensors: finding labelled samples, loading images, the one transform.

The same :class:`Preprocess` turns an image into network input during training and at
inference, so a model scores the same in validation and through :class:`Recognizer`.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile

from .errors import DataError

# Captchas scraped from the web are often cut short; load what is there (as the seed did).
ImageFile.LOAD_TRUNCATED_IMAGES = True

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")
MANIFEST_NAMES = ("labels.csv", "labels.tsv")

ImageInput = str | os.PathLike | bytes | Image.Image | np.ndarray


class ImageLoadError(DataError):
    """An image that cannot be read."""


@dataclass(frozen=True)
class Sample:
    """One labelled image on disk."""

    path: Path
    label: str


# ----------------------------------------------------------------------------- finding samples


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def find_manifest(root: Path) -> Path | None:
    for name in MANIFEST_NAMES:
        if (root / name).is_file():
            return root / name
    return None


def read_manifest(manifest: Path) -> list[Sample]:
    """Read a ``file,label`` CSV (or tab-separated TSV); a header row ``file,label`` is optional.

    Labels are taken verbatim (no stripping), so any character a CSV can quote is allowed.
    """
    delimiter = "\t" if manifest.suffix.lower() == ".tsv" else ","
    samples: list[Sample] = []
    with open(manifest, newline="", encoding="utf-8") as fh:
        for lineno, row in enumerate(csv.reader(fh, delimiter=delimiter), start=1):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if lineno == 1 and [c.strip().lower() for c in row[:2]] == ["file", "label"]:
                continue
            if len(row) < 2:
                raise DataError(f"{manifest}:{lineno}: expected 'file{delimiter}label', got {row!r}")
            samples.append(Sample(manifest.parent / row[0], row[1]))
    if not samples:
        raise DataError(f"{manifest}: the manifest lists no samples")
    return samples


def label_from_stem(stem: str, pattern: re.Pattern[str]) -> str | None:
    """The label a ``--label-pattern`` finds in a file stem: its ``label`` group, else its first
    group, else the whole match; ``None`` when the stem does not match (the whole stem must)."""
    m = pattern.fullmatch(stem)
    if m is None:
        return None
    if "label" in pattern.groupindex:
        return m.group("label")
    return m.group(1) if pattern.groups else m.group(0)


def compile_label_pattern(label_pattern: str) -> re.Pattern[str]:
    """Compile a ``--label-pattern``; a bad expression raises :class:`DataError`."""
    try:
        return re.compile(label_pattern)
    except re.error as exc:
        raise DataError(f"--label-pattern {label_pattern!r} is not a valid regular expression: {exc}") from None


def find_samples(root: str | os.PathLike, label_pattern: str | None = None) -> list[Sample]:
    """Labelled samples of a folder, sorted by path.

    With a ``labels.csv``/``labels.tsv`` manifest in the folder, its rows; otherwise every image
    file directly in the folder, labelled by its file name without extension (``226md.png`` is
    ``"226md"``), or by the part of it that ``label_pattern`` (a regular expression the whole
    stem must match) picks out: its ``label`` group or its first group, e.g. ``(.+)_\\d+`` for
    ``226md_0001.png``. Files that do not match raise :class:`DataError`, naming them.
    """
    root = Path(root)
    if not root.exists():
        raise DataError(f"{root}: no such folder")
    if root.is_file():
        if root.name.lower() in MANIFEST_NAMES:
            return read_manifest(root)
        raise DataError(f"{root}: expected a folder of images or a labels.csv manifest")
    manifest = find_manifest(root)
    if manifest is not None and label_pattern is not None:
        raise DataError(f"{manifest}: the labels come from this manifest; --label-pattern reads file names only")
    if manifest is not None:
        return sorted(read_manifest(manifest), key=lambda s: str(s.path))
    files = [p for p in sorted(root.iterdir()) if is_image_file(p)]
    if label_pattern is None:
        samples = [Sample(p, p.stem) for p in files]
    else:
        pattern = compile_label_pattern(label_pattern)
        labels = [label_from_stem(p.stem, pattern) for p in files]
        misses = [p.name for p, label in zip(files, labels) if label is None]
        if misses:
            raise DataError(
                f"{root}: {len(misses)} of {len(files)} image file names do not match --label-pattern "
                f"{label_pattern!r}: {', '.join(misses[:5])}{', ...' if len(misses) > 5 else ''}"
            )
        samples = [Sample(p, label) for p, label in zip(files, labels)]
    if not samples:
        raise DataError(
            f"{root}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)} "
            f"or a {' / '.join(MANIFEST_NAMES)} manifest)"
        )
    return samples


def split_samples(
    samples: Sequence[Sample], val_fraction: float = 0.1, seed: int = 42
) -> tuple[list[Sample], list[Sample]]:
    """Deterministic train/validation split, the same as scikit-learn's
    ``train_test_split(samples, test_size=val_fraction, random_state=seed)``.

    Returns ``(train, val)``.
    """
    n = len(samples)
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n_val = math.ceil(val_fraction * n)
    if n_val == 0:
        return list(samples), []
    perm = np.random.RandomState(seed).permutation(n)
    val = [samples[i] for i in perm[:n_val]]
    train = [samples[i] for i in perm[n_val:]]
    return train, val


def kfold_samples(
    samples: Sequence[Sample], folds: int = 5, seed: int = 42
) -> list[tuple[list[Sample], list[Sample]]]:
    """``folds`` (train, val) pairs from one shuffled order; every sample is held out once."""
    perm = np.random.RandomState(seed).permutation(len(samples))
    parts = np.array_split(perm, folds)
    out = []
    for k in range(folds):
        held = set(parts[k].tolist())
        out.append(
            (
                [samples[i] for i in perm if i not in held],
                [samples[i] for i in parts[k]],
            )
        )
    return out


# ----------------------------------------------------------------------------- loading images


def load_image(source: ImageInput, name: str | None = None) -> Image.Image:
    """Open a path, raw bytes, PIL image or numpy array (HxW or HxWxC uint8) as a PIL image.

    Raises :class:`ImageLoadError` naming the source when it is not a readable image.
    """
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        arr = source
        if arr.dtype != np.uint8:
            if np.issubdtype(arr.dtype, np.floating) and arr.size and arr.max() <= 1.0:
                arr = arr * 255.0
            arr = np.clip(arr, 0, 255).astype(np.uint8)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
            raise ImageLoadError(f"{name or 'array'}: expected HxW or HxWx3/4, got shape {arr.shape}")
        return Image.fromarray(arr)
    label = name or (str(source) if not isinstance(source, bytes) else "<bytes>")
    try:
        if isinstance(source, bytes):
            if not source:
                raise ImageLoadError(f"{label}: empty file")
            image = Image.open(io.BytesIO(source))
        else:
            path = Path(source)
            if not path.exists():
                raise ImageLoadError(f"{path}: no such file")
            if path.is_file() and path.stat().st_size == 0:
                raise ImageLoadError(f"{path}: empty file")
            image = Image.open(path)
        image.load()
    except ImageLoadError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageLoadError(f"{label}: not a readable image ({exc})") from None
    return image


@dataclass
class Preprocess:
    """Image -> network input. Stored in the model file; used by training and inference alike.

    ``resize`` gives uint8 ``[C, H, W]``; ``normalize`` turns a uint8 ``[..., C, H, W]``
    array or tensor into float32 ``(x / 255 - mean) / std``.
    """

    height: int
    width: int
    channels: int = 1  # 1 = grayscale, 3 = RGB
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)
    # "white": composite transparent pixels onto white; "drop": discard alpha (seed behaviour).
    alpha: str = "white"
    resample: str = "bilinear"

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError("channels must be 1 or 3")
        self.mean = tuple(float(m) for m in self.mean)
        self.std = tuple(float(s) for s in self.std)
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ValueError("mean and std need one value per channel")

    def to_mode(self, image: Image.Image) -> Image.Image:
        """Any PIL mode (RGBA, P, LA, CMYK, I;16, ...) -> "L" or "RGB"."""
        target = "L" if self.channels == 1 else "RGB"
        if self.alpha == "white" and (
            image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        ):
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, rgba)
        elif image.mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.asarray(image, dtype=np.float64)
            peak = arr.max() if arr.size and arr.max() > 0 else 1.0
            image = Image.fromarray((arr * (255.0 / peak)).astype(np.uint8))
        elif image.mode == "F":
            arr = np.asarray(image, dtype=np.float64)
            image = Image.fromarray(np.clip(arr * (255.0 if arr.max() <= 1 else 1), 0, 255).astype(np.uint8))
        return image if image.mode == target else image.convert(target)

    def resize(self, image: Image.Image) -> np.ndarray:
        """PIL image -> uint8 ``[C, H, W]`` at the model's size."""
        image = self.to_mode(image)
        resample = getattr(Image.Resampling, self.resample.upper())
        image = image.resize((self.width, self.height), resample)
        arr = np.asarray(image, dtype=np.uint8)
        return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1).copy()

    def normalize(self, batch):
        """uint8 ``[..., C, H, W]`` (numpy or torch) -> float32 normalised, same type."""
        if isinstance(batch, np.ndarray):
            mean = np.asarray(self.mean, dtype=np.float32).reshape(-1, 1, 1)
            std = np.asarray(self.std, dtype=np.float32).reshape(-1, 1, 1)
            return (batch.astype(np.float32) / 255.0 - mean) / std
        import torch

        mean = torch.tensor(self.mean, dtype=torch.float32, device=batch.device).view(-1, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32, device=batch.device).view(-1, 1, 1)
        return (batch.float() / 255.0 - mean) / std

    def __call__(self, source: ImageInput) -> np.ndarray:
        """Any supported input -> float32 ``[C, H, W]`` ready for the network."""
        return self.normalize(self.resize(load_image(source)))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Preprocess:
        return cls(**data)


def auto_image_size(sizes: Iterable[tuple[int, int]], max_height: int = 64, max_width: int = 512) -> tuple[int, int]:
    """A model input ``(height, width)`` for images of the given ``(width, height)`` sizes.

    The median size, scaled down to at most ``max_height`` (aspect kept), width rounded to a
    multiple of 8 and height to a multiple of 4.
    """
    sizes = list(sizes)
    if not sizes:
        raise ValueError("no image sizes given")
    width = float(np.median([w for w, _ in sizes]))
    height = float(np.median([h for _, h in sizes]))
    scale = min(1.0, max_height / height, max_width / width)
    h = max(16, int(round(height * scale / 4)) * 4)
    w = max(16, int(round(width * scale / 8)) * 8)
    return h, w


# ----------------------------------------------------------------------------- caching a dataset


@dataclass
class LoadReport:
    """What happened while reading a dataset: the images kept and the files skipped."""

    samples: list[Sample] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    sizes: list[tuple[int, int]] = field(default_factory=list)


def _read_one(sample: Sample) -> tuple[Image.Image | None, str | None]:
    try:
        return load_image(sample.path), None
    except ImageLoadError as exc:
        return None, str(exc)


def read_images(
    samples: Sequence[Sample],
    progress: bool = True,
    desc: str = "reading images",
    workers: int | None = None,
) -> tuple[list[Image.Image], LoadReport]:
    """Decode every sample's image; unreadable files are reported in the report and skipped."""
    from tqdm.auto import tqdm

    report = LoadReport()
    images: list[Image.Image] = []
    workers = workers or min(8, (os.cpu_count() or 1) * 2)
    with ThreadPoolExecutor(workers) as pool:
        results = pool.map(_read_one, samples)
        for sample, (image, error) in tqdm(
            zip(samples, results), total=len(samples), desc=desc, disable=not progress, leave=False
        ):
            if image is None:
                report.skipped.append((sample.path, error or "unreadable"))
                continue
            images.append(image)
            report.samples.append(sample)
            report.sizes.append(image.size)
    return images, report


def to_arrays(
    images: Sequence[Image.Image], preprocess: Preprocess, workers: int | None = None
) -> np.ndarray:
    """Resize every image: uint8 ``[N, C, H, W]``."""
    out = np.empty((len(images), preprocess.channels, preprocess.height, preprocess.width), np.uint8)
    workers = workers or min(8, (os.cpu_count() or 1) * 2)

    def fill(i: int) -> None:
        out[i] = preprocess.resize(images[i])

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(fill, range(len(images))))
    return out

