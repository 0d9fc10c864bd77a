"""CLI commands for data tools: ``generate``, ``inspect``, ``preview``.

Thin wrappers: parse, call the library, print. Library errors (``DataError``, ``ValueError``)
reach ``cli.main``, which prints ``captcha-ocr: error: ...`` and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _progress_default() -> bool:
    from .cli import _progress_default

    return _progress_default()


def add_label_pattern_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--label-pattern", metavar="REGEX",
                   help="take the label from part of each file name (without extension): the regex must match the "
                        r"whole name, and its group 'label' or first group is the label, e.g. '(.+)_\d+' for "
                        "226md_0001.png")


def cmd_generate(a: argparse.Namespace) -> int:
    from .errors import DataError
    from .synth import generate, parse_range, parse_size

    out = Path(a.out)
    if (out / "labels.csv").exists() and not a.overwrite:
        raise DataError(f"{out}: already holds a generated dataset (labels.csv); use --overwrite or another folder")
    lengths, size = parse_range(a.length), parse_size(a.size)
    t0 = time.perf_counter()
    samples = generate(out, a.count, lengths=lengths, alphabet=a.alphabet, size=size, seed=a.seed,
                       workers=a.workers, progress=not a.no_progress and _progress_default())
    dt = time.perf_counter() - t0
    print(f"wrote {len(samples)} captchas ({size[0]}x{size[1]}, lengths {lengths[0]}-{lengths[1]}, "
          f"{len(set(a.alphabet))} characters, seed {a.seed}) and labels.csv to {out}/ "
          f"in {dt:.1f}s ({len(samples) / dt:.0f} images/s)")
    return 0


def cmd_inspect(a: argparse.Namespace) -> int:
    from .inspect_data import format_report, inspect_dataset

    report = inspect_dataset(a.data, progress=not a.no_progress and _progress_default(),
                             label_pattern=a.label_pattern)
    if a.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(format_report(report))
    return 0


def cmd_preview(a: argparse.Namespace) -> int:
    from .preview import preview

    try:
        r = preview(a.data, a.out, augment=a.augment, count=a.count, preset=a.preset, seed=a.seed, cols=a.cols,
                    label_pattern=a.label_pattern)
    except ImportError as exc:  # albumentations missing for an albu-* level
        print(f"captcha-ocr: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {r.path} ({r.size[0]}x{r.size[1]} px): {r.images} image(s) at model input "
          f"{r.model_input[0]}x{r.model_input[1]}" + (f", augment {r.augment}" if r.augment != "none" else ""))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this module's sub-commands on the ``captcha-ocr`` parser."""
    from .augment import AUGMENTATIONS
    from .synth import DEFAULT_ALPHABET

    g = sub.add_parser("generate", help="write synthetic captchas and a labels.csv (deterministic per seed)")
    g.add_argument("out", help="output folder")
    g.add_argument("--count", type=int, default=1000)
    g.add_argument("--length", default="4-5", help="label length: N or N-M (default 4-5)")
    g.add_argument("--alphabet", default=DEFAULT_ALPHABET, help=f"characters to draw from (default {DEFAULT_ALPHABET})")
    g.add_argument("--size", default="160x60", help="image WIDTHxHEIGHT (default 160x60)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--workers", type=int, help="processes (default: one per CPU)")
    g.add_argument("--overwrite", action="store_true", help="write into a folder that already has a labels.csv")
    g.add_argument("--no-progress", action="store_true")
    g.set_defaults(func=cmd_generate)

    i = sub.add_parser("inspect", help="counts, alphabet, sizes, duplicates and likely labelling problems")
    i.add_argument("data", help="folder of images named by their label, or with a labels.csv/labels.tsv")
    i.add_argument("--json", action="store_true", help="the full report as JSON")
    add_label_pattern_arg(i)
    i.add_argument("--no-progress", action="store_true")
    i.set_defaults(func=cmd_inspect)

    p = sub.add_parser("preview", help="a grid of samples as the model sees them (after preprocessing/augmentation)")
    p.add_argument("data")
    p.add_argument("--out", default="preview.png", help="PNG to write (default preview.png)")
    p.add_argument("--augment", default="none", choices=list(AUGMENTATIONS))
    p.add_argument("--count", type=int, default=16)
    p.add_argument("--cols", type=int, default=4)
    p.add_argument("--preset", default="default", choices=["default", "seed"])
    p.add_argument("--seed", type=int, default=0, help="which samples and which augmentation draws")
    add_label_pattern_arg(p)
    p.set_defaults(func=cmd_preview)
