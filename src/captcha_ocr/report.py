"""Error reports for a run or an evaluation: ``errors.png`` and ``confusions.csv``.

``errors.png`` shows every wrong reading (at most :data:`MAX_ERRORS`, most edits first, then
most confident) as the model saw the image, with the label, the reading and its confidence.
``confusions.csv`` counts what was read instead of what: ``label,read,count,kind`` where kind
``char`` is one character read as another (mistakes of the right length, position by
position) and ``text`` a whole label read with a different length. ``suspect_labels.csv``
(``file,label,read,confidence``) lists the readings that disagree with their label at confidence >=
:data:`~captcha_ocr.metrics.SUSPECT_CONFIDENCE`, most confident first: often the label is wrong.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .metrics import confusions, edit_distance, suspect_labels
from .plots import error_grid, save_png

MAX_ERRORS = 64


def write_confusions(truths: Sequence[str], preds: Sequence[str], path: str | os.PathLike) -> Path:
    """Write the confusion counts (see the module docstring), most frequent first."""
    counts = confusions(truths, preds)
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["label", "read", "count", "kind"])
        for (t, p), n in rows:
            kind = "char" if len(t) == 1 and len(p) == 1 else "text"
            w.writerow([t, p, n, kind])
    return path


def write_report(
    out_dir: str | os.PathLike,
    truths: Sequence[str],
    preds: Sequence[str],
    confidences: Sequence[float],
    image_of: Callable[[int], np.ndarray],
    names: Sequence[str] | None = None,
    max_errors: int = MAX_ERRORS,
) -> list[Path]:
    """Write ``errors.png``, ``confusions.csv`` and ``suspect_labels.csv`` into ``out_dir``; returns their paths.

    ``image_of(i)`` gives image ``i`` as the model saw it, uint8 ``[C, H, W]``; it is called
    only for the mistakes shown. With no mistakes, ``errors.png`` says so.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wrong = [i for i, (t, p) in enumerate(zip(truths, preds)) if t != p]
    wrong.sort(key=lambda i: (-edit_distance(truths[i], preds[i]), -confidences[i]))
    shown = wrong[:max_errors]
    if shown:
        grid = error_grid(
            [image_of(i) for i in shown], [truths[i] for i in shown], [preds[i] for i in shown],
            [confidences[i] for i in shown], [Path(names[i]).name for i in shown] if names else None,
            total=len(wrong),
        )
    else:
        from .plots import image_grid

        blank = np.full((1, 16, 200), 255, np.uint8)
        grid = image_grid([[blank]], [[(f"no wrong readings in {len(truths)} image(s)", (0, 0, 0))]])
    return [save_png(grid, out / "errors.png"), write_confusions(truths, preds, out / "confusions.csv"),
            write_suspects(truths, preds, confidences, names, out / "suspect_labels.csv")]


def write_suspects(truths: Sequence[str], preds: Sequence[str], confidences: Sequence[float],
                   names: Sequence[str] | None, path: str | os.PathLike) -> Path:
    """Write ``file,label,read,confidence`` for each of :func:`~captcha_ocr.metrics.suspect_labels`
    (``file`` empty without ``names``); only the header when there are none."""
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "label", "read", "confidence"])
        for i in suspect_labels(truths, preds, confidences):
            w.writerow([names[i] if names else "", truths[i], preds[i], f"{confidences[i]:.4f}"])
    return path


def write_eval_report(out_dir: str | os.PathLike, result, preprocess) -> list[Path]:
    """The report for an :class:`~captcha_ocr.evaluation.EvalResult` (images re-read from disk)."""
    return write_report(
        out_dir, result.truths, result.texts, [p.confidence for p in result.predictions],
        lambda i: preprocess.load(result.samples[i].path), [str(s.path) for s in result.samples],
    )
