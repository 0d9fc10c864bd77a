"""Image -> uint8 array: the one path from any image source to what the network reads.

:meth:`Preprocess.load` opens a path, bytes, PIL image or numpy array and resizes it to the
model's input, uint8 ``[C, H, W]``; :meth:`Preprocess.normalize` turns such arrays into float32
network input. Training, :class:`~captcha_ocr.recognizer.Recognizer`, the HTTP server, the
reports and ``preview`` all read images through it, so a model sees the same pixels everywhere.
The ``Preprocess`` is stored in the model file.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps

from .errors import ImageLoadError, ImageTooLargeError
from .margins import FULL, crop_image
from .samples import Sample, evenly_spaced
from .zooms import zoom_rows

# Captchas scraped from the web are often cut short: such a file is decoded again as far as it goes
# (as the seed did), with Pillow's global switch turned on only for that decoding (_load_truncated)
_TRUNCATED_SWITCH = threading.Lock()

ImageInput = str | os.PathLike | bytes | Image.Image | np.ndarray
# a float image whose values peak at or under this is taken as 0-1 data (a resize overshoots 1 a little: such
# an image read as 0-255 data turned almost black), above it as 0-255
UNIT_RANGE_PEAK = 2.0

EXIF_ORIENTATION = 0x0112  # the EXIF tag that says how a viewer turns the stored pixels
TURNED_ON_THE_SIDE = (5, 6, 7, 8)  # orientations that swap width and height
# a labelled image narrower or shorter than this is no captcha (a thumbnail, an icon, a broken export): training
# skips it and says so, as it does an unreadable file (the smallest benchmark images are 80x25 and 124x24)
MIN_CAPTCHA_SIDE = 10


def orientation(image: Image.Image) -> int:
    """A file's EXIF orientation (1, as stored, when it has none or it cannot be read)."""
    try:
        value = image.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:  # a broken EXIF block: the pixels as stored
        return 1
    return value if value in range(1, 9) else 1


def upright(image: Image.Image) -> Image.Image:
    """A file's pixels as an image viewer (and the labelling page's browser) shows them: turned and
    mirrored by its EXIF orientation tag, where it has one (phone photos of a screen do)."""
    return ImageOps.exif_transpose(image) if orientation(image) != 1 else image


def header_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """``(width, height)`` of an image file as it is shown (EXIF orientation applied), from its header
    alone; ``None`` when it is not a readable image."""
    try:
        with Image.open(path) as im:
            width, height = im.size
            return (height, width) if orientation(im) in TURNED_ON_THE_SIDE else (width, height)
    except (OSError, SyntaxError, ValueError):
        return None


def default_workers(workers: int | None = None) -> int:
    """Threads for reading images: ``workers`` if given (at least 1, else ``ValueError``), else 2 per
    CPU, at most 8."""
    if workers is not None and workers < 1:
        raise ValueError(f"--workers: at least 1 thread to read images, got {workers}")
    return workers or min(8, (os.cpu_count() or 1) * 2)


def _source_name(source: ImageInput, name: str | None) -> str:
    if name:
        return name
    if isinstance(source, bytes):
        return "<bytes>"
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return "array" if isinstance(source, np.ndarray) else "image"


def to_mode(image: Image.Image, channels: int = 3, alpha: str = "white") -> Image.Image:
    """Any PIL mode (RGBA, P, LA, CMYK, I;16, ...) -> "L" (``channels`` 1) or "RGB" (3): transparent
    pixels on white (``alpha`` "white"; "drop" discards alpha), 16-bit and float images scaled to 0-255."""
    target = "L" if channels == 1 else "RGB"
    image = eight_bit(image)
    if alpha == "white" and (
        image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    ):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image if image.mode == target else image.convert(target)


def eight_bit(image: Image.Image) -> Image.Image:
    """A 16-bit or 32-bit integer ("I;16", "I") or float ("F") image -> "L", scaled to its peak (a float
    image whose values stay within 0-1 or 0-255 is taken as that range); a grey value the file marks
    transparent becomes transparent ("LA"). Other modes are returned as they are."""
    if image.mode not in ("I;16", "I;16B", "I;16L", "I", "F"):
        return image
    arr = np.asarray(image, dtype=np.float64)
    peak = float(arr.max()) if arr.size else 0.0
    if image.mode == "F" and peak <= UNIT_RANGE_PEAK:
        scale = 255.0
    elif image.mode == "F" and peak <= 255.0:
        scale = 1.0
    else:
        scale = 255.0 / peak if peak > 0 else 1.0
    grey = Image.fromarray(np.clip(arr * scale, 0, 255).astype(np.uint8))
    transparent = image.info.get("transparency")
    if isinstance(transparent, int) and image.mode != "F":  # PNG tRNS of a 16-bit grey image: one grey value
        grey.putalpha(Image.fromarray(np.where(arr == transparent, 0, 255).astype(np.uint8)))
    return grey


def load_image(source: ImageInput, name: str | None = None, max_pixels: int | None = None) -> Image.Image:
    """Open a path, raw bytes (or a bytearray, memoryview or open binary file), PIL image or numpy array
    (HxW or HxWxC: uint8, 16-bit, bool, or float in 0-1 or 0-255) as a PIL image; a file or PIL image
    is turned upright by its EXIF orientation, as a viewer shows it (:func:`upright`). An animated GIF
    or multi-page TIFF is read at its first frame.

    Raises :class:`ImageLoadError` naming the source (``name``, else the path) when it is not a
    readable image, and :class:`ImageTooLargeError` when its header says it has more than
    ``max_pixels`` pixels (checked before the pixels are decoded).
    """
    if isinstance(source, (bytearray, memoryview)):
        source = bytes(source)
    elif hasattr(source, "read") and not isinstance(source, Image.Image):  # an open file, io.BytesIO
        source = source.read()
    label = _source_name(source, name)
    if isinstance(source, Image.Image):
        if 0 in source.size:
            raise ImageLoadError(f"{label}: image has no pixels")
        try:
            return upright(source)
        except Exception as exc:  # a broken EXIF block or a lazily loaded file cut short
            raise ImageLoadError(f"{label}: not a readable image ({type(exc).__name__}: {exc})") from None
    if isinstance(source, np.ndarray):
        arr = source
        if arr.dtype != np.uint8:
            floating = np.issubdtype(arr.dtype, np.floating)
            if floating and arr.size and not np.isfinite(arr).all():
                raise ImageLoadError(f"{label}: the array holds NaN or infinite values")
            if (floating or arr.dtype == bool) and arr.size and arr.max() <= UNIT_RANGE_PEAK:
                arr = arr * 255.0
            elif np.issubdtype(arr.dtype, np.integer) and arr.size and arr.max() > 255:
                arr = arr * (255.0 / arr.max())  # 16-bit: scaled to its peak, as a 16-bit file is (to_mode)
            arr = np.clip(arr, 0, 255).astype(np.uint8)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)):
            raise ImageLoadError(f"{label}: expected HxW or HxWx2/3/4, got shape {arr.shape}")
        if 0 in arr.shape[:2]:
            raise ImageLoadError(f"{label}: image has no pixels")
        return Image.fromarray(arr, "LA") if arr.ndim == 3 and arr.shape[2] == 2 else Image.fromarray(arr)
    if isinstance(source, (str, os.PathLike)) and not os.fspath(source):
        raise ImageLoadError("an empty path: no image file named")
    try:
        if isinstance(source, bytes):
            if not source:
                raise ImageLoadError(f"{label}: empty file")

            def open_image() -> Image.Image:
                return Image.open(io.BytesIO(source))  # reads the header only
        else:
            path = Path(source)
            if not path.exists():
                raise ImageLoadError(f"{path}: no such file")
            if path.is_file() and path.stat().st_size == 0:
                raise ImageLoadError(f"{path}: empty file")

            def open_image() -> Image.Image:
                return Image.open(path)
        image = open_image()
        width, height = image.size
        if max_pixels is not None and width * height > max_pixels:
            raise ImageTooLargeError(
                f"{label}: {width}x{height} = {width * height} pixels is over the limit of {max_pixels}")
        if width == 0 or height == 0:
            raise ImageLoadError(f"{label}: image has no pixels")
        try:
            image.load()
        except OSError as exc:
            if "truncated" not in str(exc):
                raise
            image = _load_truncated(open_image, label)
        image = upright(image)
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{label}: {exc}") from None
    except Image.UnidentifiedImageError:
        raise ImageLoadError(f"{label}: not a readable image (no image format Pillow knows)") from None
    except Exception as exc:  # untrusted files: PIL raises many types for junk, never let one escape
        raise ImageLoadError(f"{label}: not a readable image ({type(exc).__name__}: {exc})") from None
    return image


def _load_truncated(open_image: Callable[[], Image.Image], label: str) -> Image.Image:
    """A file cut short, decoded as far as it goes (the decoder fills the rest: black for PNG and GIF,
    grey for JPEG); raises :class:`ImageLoadError` when it ends before any pixel."""
    with _TRUNCATED_SWITCH:
        before = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            image = open_image()
            image.load()
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = before
    if not np.asarray(image).any():
        raise ImageLoadError(f"{label}: the file is cut short before its first pixels")
    return image


@dataclass
class Preprocess:
    """Image -> network input. Stored in the model file; used by training and inference alike.

    ``load`` gives uint8 ``[C, H, W]`` from any image source (``resize`` from a PIL image);
    ``normalize`` turns a uint8 ``[..., C, H, W]`` array or tensor into float32
    ``(x / 255 - mean) / std``.
    """

    height: int
    width: int
    channels: int = 1  # 1 = grayscale, 3 = RGB
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)
    # "white": composite transparent pixels onto white; "drop": discard alpha (seed behaviour).
    alpha: str = "white"
    resample: str = "bilinear"
    # vertical zoom applied before resizing (captcha_ocr.zooms.zoom_rows): > 1 gives small text more rows
    zoom: float = 1.0
    # the box of each image kept before the zoom, (left, top, right, bottom) as fractions of its size
    # (captcha_ocr.margins.choose_crop): a site's empty margins cut off
    crop: tuple[float, float, float, float] = FULL

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError("channels must be 1 or 3")
        self.zoom = float(self.zoom)
        if self.zoom <= 0:
            raise ValueError(f"zoom must be positive, got {self.zoom}")
        self.crop = tuple(float(v) for v in self.crop)
        left, top, right, bottom = self.crop
        if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
            raise ValueError(f"crop must be a box (left, top, right, bottom) inside (0, 0, 1, 1), got {self.crop}")
        self.mean = tuple(float(m) for m in self.mean)
        self.std = tuple(float(s) for s in self.std)
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ValueError("mean and std need one value per channel")

    def to_mode(self, image: Image.Image) -> Image.Image:
        """Any PIL mode (RGBA, P, LA, CMYK, I;16, ...) -> "L" or "RGB" (:func:`to_mode`)."""
        return to_mode(image, self.channels, self.alpha)

    def frame(self, image: Image.Image) -> Image.Image:
        """PIL image -> the part the model reads (mode ``L`` or ``RGB``): cut to :attr:`crop`, then
        rows zoomed by :attr:`zoom`."""
        return zoom_rows(crop_image(self.to_mode(image), self.crop), self.zoom)

    def resize(self, image: Image.Image) -> np.ndarray:
        """PIL image -> uint8 ``[C, H, W]`` at the model's size (after :attr:`crop` and :attr:`zoom`)."""
        return self._fit(self.frame(image))

    def _fit(self, image: Image.Image) -> np.ndarray:
        """A framed PIL image -> uint8 ``[C, H, W]`` at the model's size."""
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

    def load(self, source: ImageInput, name: str | None = None, max_pixels: int | None = None) -> np.ndarray:
        """Any supported image source -> uint8 ``[C, H, W]`` at the model's size.

        The one image -> array path. Raises :class:`ImageLoadError` (naming ``name`` or the
        path) for anything unreadable, :class:`ImageTooLargeError` over ``max_pixels``.
        """
        return self.load_widths(source, (self.width,), name, max_pixels)[0]

    def load_widths(self, source: ImageInput, widths: Sequence[int], name: str | None = None,
                    max_pixels: int | None = None, zooms: Sequence[float] = (1.0,)) -> list[np.ndarray]:
        """Like :meth:`load`, at each of ``zooms`` (:func:`~captcha_ocr.zooms.zoom_rows`) and each of
        ``widths``: one uint8 ``[C, H, w]`` per view, zoom-major (``views[z * len(widths) + w]``), the
        image decoded once."""
        image = load_image(source, name, max_pixels)
        try:
            image = self.frame(image)
            return [(self if w == self.width else replace(self, width=w))._fit(zoomed)
                    for zoomed in (zoom_rows(image, z) for z in zooms) for w in widths]
        except Exception as exc:  # truncated or odd files fail only when their pixels are converted
            raise ImageLoadError(f"{_source_name(source, name)}: not a readable image "
                                 f"({type(exc).__name__}: {exc})") from None

    def __call__(self, source: ImageInput) -> np.ndarray:
        """Any supported input -> float32 ``[C, H, W]`` ready for the network."""
        return self.normalize(self.load(source))

    @classmethod
    def for_preset(cls, preset, height: int, width: int, zoom: float = 1.0,
                   crop: Sequence[float] = FULL) -> Preprocess:
        """The preprocessing a :class:`~captcha_ocr.config.Preset` trains with, at ``height`` x ``width``
        (each image cut to ``crop`` and its rows zoomed by ``zoom`` first)."""
        return cls(height, width, preset.channels, preset.mean, preset.std, preset.alpha, zoom=zoom, crop=tuple(crop))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Preprocess:
        return cls(**data)


# ----------------------------------------------------------------------------- reading a dataset


@dataclass
class LoadReport:
    """What happened while reading a dataset: the images kept and the files skipped."""

    samples: list[Sample] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    sizes: list[tuple[int, int]] = field(default_factory=list)


def too_small(size: tuple[int, int]) -> str | None:
    """Why an image of ``size`` (width, height) is too small to be a captcha, or None when it is not."""
    if min(size) >= MIN_CAPTCHA_SIDE:
        return None
    return f"{size[0]}x{size[1]} pixels: too small to be a captcha (under {MIN_CAPTCHA_SIDE} px on a side)"


def _read_one(sample: Sample) -> tuple[Image.Image | None, str | None]:
    try:
        image = load_image(sample.path)
    except ImageLoadError as exc:
        return None, str(exc)
    why = too_small(image.size)
    return (None, why) if why else (image, None)


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
    with ThreadPoolExecutor(default_workers(workers)) as pool:
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


def spaced_images(samples: Sequence[Sample], limit: int) -> tuple[list[Image.Image], list[str]]:
    """The readable images of every step-th sample, at most ``limit`` of them evenly spaced (how a
    run's choices from its training images read them), and their labels; the files a dataset skips
    (:func:`read_images`) are left out."""
    images, labels = [], []
    for s in evenly_spaced(samples, limit):
        image, _why = _read_one(s)
        if image is not None:
            images.append(image)
            labels.append(s.label)
    return images, labels


def to_arrays(
    images: Sequence[Image.Image], preprocess: Preprocess, workers: int | None = None
) -> np.ndarray:
    """Resize every image: uint8 ``[N, C, H, W]``."""
    out = np.empty((len(images), preprocess.channels, preprocess.height, preprocess.width), np.uint8)

    def fill(i: int) -> None:
        out[i] = preprocess.load(images[i])

    with ThreadPoolExecutor(default_workers(workers)) as pool:
        list(pool.map(fill, range(len(images))))
    return out
