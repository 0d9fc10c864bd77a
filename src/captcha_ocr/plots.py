"""Pictures of data and runs: captioned image grids (PIL) and training curves (matplotlib).

Grids need only Pillow and have an exact, predictable size. Curves need the optional
``matplotlib`` (``pip install 'captcha-ocr[plots]'``), imported only when a curve is drawn,
and drawn with the Agg backend (no display needed).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .files import write_atomic

PAD = 6  # pixels around and between cells
FONT_SIZE = 13
LINE = FONT_SIZE + 4  # pixels per caption line
MIN_CELL_WIDTH = 140
CURVES_SIZE = (1200, 800)  # curves.png, pixels (width, height)
RED, GREEN, BLACK, GREY = (200, 30, 30), (20, 120, 40), (0, 0, 0), (110, 110, 110)


def _font(size: int = FONT_SIZE, text: str = "") -> ImageFont.ImageFont:
    """Pillow's own font, which draws ASCII only; for ``text`` with other characters (labels in Cyrillic,
    Hebrew, Arabic ...), a shipped font that draws all of them, where one does."""
    if not text.isascii():
        from .styles.fonts import fonts_for

        path = fonts_for(("sans",), "".join(sorted({c for c in text if c.isprintable() and not c.isspace()})))[0]
        if path:
            return ImageFont.truetype(path, size)
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        return ImageFont.load_default()


def to_uint8(x, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """Undo normalisation: float ``[B, C, H, W]`` (numpy or torch) -> uint8 ``[B, C, H, W]``."""
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    m = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
    s = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
    return np.clip((np.asarray(x, np.float32) * s + m) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _to_pil(image: np.ndarray) -> Image.Image:
    """uint8 ``[C, H, W]`` (C = 1 or 3) or ``[H, W]`` -> PIL RGB."""
    arr = np.asarray(image, np.uint8)
    if arr.ndim == 3:
        arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
    return Image.fromarray(np.ascontiguousarray(arr)).convert("RGB")


def image_grid(
    cells: Sequence[Sequence[np.ndarray]],
    captions: Sequence[Sequence[tuple[str, tuple[int, int, int]]]],
    cols: int = 4,
    scale: int | None = None,
    title: str | None = None,
) -> Image.Image:
    """A white sheet of captioned cells, ``cols`` per row.

    Each cell shows its images (uint8 ``[C, H, W]``) stacked top to bottom, then its caption
    lines ``(text, rgb colour)``. Images are enlarged by the integer ``scale`` (default: so
    the widest is at least 200 pixels). The sheet is
    ``cols' * (cell_w + PAD) + PAD`` wide, where ``cols' = min(cols, len(cells))``.
    """
    if not cells:
        raise ValueError("no images to draw")
    pils = [[_to_pil(im) for im in cell] for cell in cells]
    widest = max(im.width for cell in pils for im in cell)
    scale = scale or max(1, math.ceil(200 / widest))
    pils = [[im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST) for im in cell]
            for cell in pils]
    n_lines = max((len(c) for c in captions), default=0)
    cell_w = max(MIN_CELL_WIDTH, max(im.width for cell in pils for im in cell))
    cell_h = max(sum(im.height + 2 for im in cell) for cell in pils) + n_lines * LINE
    cols = max(1, min(cols, len(cells)))
    rows = math.ceil(len(cells) / cols)
    top = LINE + PAD if title else 0
    sheet = Image.new("RGB", (cols * (cell_w + PAD) + PAD, top + rows * (cell_h + PAD) + PAD), "white")
    draw = ImageDraw.Draw(sheet)
    font = _font(text=(title or "") + "".join(text for caption in captions for text, _ in caption))
    if title:
        draw.text((PAD, PAD), title, fill=BLACK, font=font)
    for k, (cell, caption) in enumerate(zip(pils, captions)):
        x = PAD + (k % cols) * (cell_w + PAD)
        y = top + PAD + (k // cols) * (cell_h + PAD)
        for im in cell:
            sheet.paste(im, (x, y))
            y += im.height + 2
        for text, colour in caption:
            draw.text((x, y), text, fill=colour, font=font)
            y += LINE
    return sheet


def save_png(image: Image.Image, path: str | os.PathLike) -> Path:
    """Write a PNG atomically (a viewer refreshing it never sees half a file); returns the path."""
    return write_atomic(path, lambda fh: image.save(fh, format="PNG"))


def error_grid(
    images: Sequence[np.ndarray],
    truths: Sequence[str],
    preds: Sequence[str],
    confidences: Sequence[float],
    names: Sequence[str] | None = None,
    total: int | None = None,
    cols: int = 4,
) -> Image.Image:
    """Wrong readings: each image (uint8 ``[C, H, W]``) with its label, the reading and its
    confidence. ``total``: how many mistakes there were, if more than are shown."""
    captions = []
    for k, (t, p, c) in enumerate(zip(truths, preds, confidences)):
        lines = [(f"label {t}", GREEN), (f"read  {p or '(nothing)'}  {c:.2f}", RED)]
        if names is not None:
            lines.append((str(names[k])[-24:], GREY))
        captions.append(lines)
    n = len(images)
    shown = f"{n} of {total}" if total and total > n else f"{n}"
    return image_grid([[im] for im in images], captions, cols=cols,
                      title=f"{shown} wrong reading(s): label (green), reading and confidence (red)")


def save_curves(rows: Sequence[dict], path: str | os.PathLike) -> Path:
    """Plot per-epoch metrics (dicts with ``epoch``, ``train_loss``, ``val_loss``,
    ``val_accuracy``, ``val_cer``, ``lr``; missing values skipped) to a PNG of
    :data:`CURVES_SIZE` pixels. Raises ``ImportError`` without matplotlib."""
    from matplotlib.figure import Figure  # Figure + savefig use Agg; pyplot (and a display) is never touched

    fig = Figure(figsize=(CURVES_SIZE[0] / 100, CURVES_SIZE[1] / 100), dpi=100)
    axes = fig.subplots(2, 2)
    from matplotlib.ticker import MaxNLocator

    panels = [
        (axes[0, 0], "loss (CTC)", [("train_loss", "train"), ("val_loss", "validation")], False),
        (axes[0, 1], "validation accuracy (exact match)", [("val_accuracy", "accuracy")], False),
        (axes[1, 0], "validation character error rate", [("val_cer", "CER")], False),
        (axes[1, 1], "learning rate (end of epoch)", [("lr", "lr")], True),
    ]
    axes[0, 1].set_ylim(-0.02, 1.02)
    axes[1, 0].set_ylim(bottom=0, top=max([1.0] + [r["val_cer"] for r in rows if _finite(r.get("val_cer"))]) * 1.02)
    for ax, title, series, log in panels:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for key, label in series:
            pts = [(r["epoch"], r[key]) for r in rows if _finite(r.get(key))]
            if pts:
                ax.plot(*zip(*pts), marker="o", markersize=3, label=label)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if log and any(_finite(r.get("lr")) and r["lr"] > 0 for r in rows):
            ax.set_yscale("log")
        if len(series) > 1:
            ax.legend()
    # fixed margins: tight_layout costs more than the plot itself, and this runs every epoch
    fig.subplots_adjust(left=0.06, right=0.98, top=0.95, bottom=0.07, hspace=0.3, wspace=0.18)
    return write_atomic(path, lambda fh: fig.savefig(fh, format="png", dpi=100))


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)
