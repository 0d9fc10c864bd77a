"""Writing a generated dataset: images drawn in chunks by worker processes, then a ``labels.csv``.

The generators (:mod:`captcha_ocr.synth`, :mod:`captcha_ocr.styles`) each supply a picklable
``make_chunk(indices, out) -> [(file name, label)]`` that draws and saves the images of one
chunk; :func:`write_dataset` hands out the chunks, keeps the rows in index order whatever order
the chunks finish in, and writes the manifest.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from .samples import Sample

CHUNK = 64  # images per job handed to a worker process

MakeChunk = Callable[[range, str], list[tuple[str, str]]]


def write_dataset(
    out_dir: str | os.PathLike,
    count: int,
    make_chunk: MakeChunk,
    workers: int | None = None,
    progress: bool | Callable[[int], None] = False,
) -> list[Sample]:
    """Draw images ``0 .. count - 1`` into ``out_dir`` with ``make_chunk`` and write ``labels.csv``.

    ``make_chunk(indices, out)`` saves the images of ``indices`` into the folder ``out`` and returns
    their ``(file name, label)`` rows; with ``workers > 1`` it must pickle (a module-level function,
    or a ``functools.partial`` of one). ``workers`` processes draw the chunks (default: one per CPU);
    ``progress`` is ``True`` for a progress bar, or a callback given the number of images finished
    since its last call.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    chunks = [range(s, min(s + CHUNK, count)) for s in range(0, count, CHUNK)]
    workers = min(workers or os.cpu_count() or 1, len(chunks))  # processes: drawing is CPU-bound
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=count, desc="generating", unit="img", leave=False)
        progress = bar.update
    rows: list[tuple[str, str]] = [("", "")] * count
    try:
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                futures = {pool.submit(make_chunk, idx, str(out)): idx for idx in chunks}
                for future in as_completed(futures):
                    idx = futures[future]
                    rows[idx.start : idx.stop] = future.result()
                    if progress:
                        progress(len(idx))
        else:
            for idx in chunks:
                rows[idx.start : idx.stop] = make_chunk(idx, str(out))
                if progress:
                    progress(len(idx))
    finally:
        if bar is not None:
            bar.close()
    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "label"])
        writer.writerows(rows)
    return [Sample(out / name, label) for name, label in rows]
