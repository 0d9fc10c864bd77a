"""``captcha-ocr generate``, ``inspect`` and ``preview``: making and looking at datasets."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..augment import AUGMENTATIONS
from ..charset import CASE_POLICIES, LABEL_ORDERS
from .common import add_label_pattern_arg, add_preset_arg, show_progress

_CAPTCHA_DEFAULTS = {"length": "4-5", "size": "160x60"}  # --alphabet's is synth.DEFAULT_ALPHABET


def cmd_generate(a: argparse.Namespace) -> int:
    from ..errors import DataError
    from ..samples import MANIFEST_NAMES, is_image_file

    out = Path(a.out)
    if out.is_dir() and not a.overwrite:
        held = [p.name for p in sorted(out.iterdir()) if is_image_file(p) or p.name in MANIFEST_NAMES]
        if held:
            raise DataError(f"{out}: already holds images or labels ({', '.join(held[:3])}"
                            f"{', ...' if len(held) > 3 else ''}), which generated files would replace or hide; "
                            f"give an empty or new folder, or --overwrite")
    t0 = time.perf_counter()
    if a.style:
        fixed = [f"--{name}" for name in ("length", "size", "alphabet") if getattr(a, name) is not None]
        if fixed:
            raise ValueError(f"--style {a.style} fixes the size, label lengths and alphabet: drop {', '.join(fixed)}")
        samples, what = _generate_style(a, out)
    else:
        samples, what = _generate_captcha(a, out)
    dt = time.perf_counter() - t0
    print(f"wrote {len(samples)} captchas ({what}, seed {a.seed}) and labels.csv to {out}/ "
          f"in {dt:.1f}s ({len(samples) / dt:.0f} images/s)")
    return 0


def _generate_captcha(a: argparse.Namespace, out: Path):
    """The ``captcha`` package's captchas, with --length, --size and --alphabet."""
    from ..decode import parse_lengths
    from ..synth import DEFAULT_ALPHABET, generate, parse_size

    length = _CAPTCHA_DEFAULTS["length"] if a.length is None else a.length
    alphabet = DEFAULT_ALPHABET if a.alphabet is None else a.alphabet
    allowed = parse_lengths(length)
    if len(allowed) != allowed[-1] - allowed[0] + 1:
        raise ValueError(f"bad length range {length!r}: expected N or N-M")
    lengths, size = (allowed[0], allowed[-1]), parse_size(_CAPTCHA_DEFAULTS["size"] if a.size is None else a.size)
    samples = generate(out, a.count, lengths=lengths, alphabet=alphabet, size=size, seed=a.seed,
                       workers=a.workers, progress=show_progress(a.no_progress))
    return samples, (f"{size[0]}x{size[1]}, lengths {lengths[0]}-{lengths[1]}, "
                     f"{len(set(alphabet))} characters")


def _generate_style(a: argparse.Namespace, out: Path):
    """Captchas of a named style (:mod:`captcha_ocr.styles`), which fixes size, lengths and alphabet."""
    from ..styles import GENERAL, RANDOM, generate_style, get_style

    samples = generate_style(out, a.style, a.count, seed=a.seed, workers=a.workers,
                             progress=show_progress(a.no_progress))
    if a.style == RANDOM:
        return samples, "style random: sizes, lengths and alphabets drawn per image"
    if a.style == GENERAL:
        return samples, "style general: the general model's training images (random, and the captcha package's)"
    spec = get_style(a.style)
    return samples, (f"style {spec.name}, {spec.size[0]}x{spec.size[1]}, lengths {spec.lengths[0]}-"
                     f"{spec.lengths[1]}, {len(set(spec.alphabet))} characters")


def cmd_inspect(a: argparse.Namespace) -> int:
    from ..inspect_data import format_report, inspect_dataset

    report = inspect_dataset(a.data, progress=show_progress(a.no_progress), label_pattern=a.label_pattern)
    if a.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(format_report(report))
    return 0


def cmd_preview(a: argparse.Namespace) -> int:
    from ..margins import FULL, describe_crop, parse_crop
    from ..preview import preview

    r = preview(a.data, a.out, augment=a.augment, count=a.count, preset=a.preset, seed=a.seed, cols=a.cols,
                label_pattern=a.label_pattern, zoom=a.zoom, crop=parse_crop(a.crop), init=a.init, case=a.case,
                label_order=a.label_order)
    print(f"wrote {r.path} ({r.size[0]}x{r.size[1]} px): {r.images} image(s) at model input "
          f"{r.model_input[0]}x{r.model_input[1]}" + (f", cut to {describe_crop(r.crop)}" if r.crop != FULL else "")
          + f", rows zoomed {r.zoom:g}x ({r.zoom_note})"
          + (f", augment {r.augment}" if r.augment != "none" else ""))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``generate``, ``inspect`` and ``preview`` on the ``captcha-ocr`` parser."""
    from ..styles import style_names
    from ..synth import DEFAULT_ALPHABET

    g = sub.add_parser("generate", help="write synthetic captchas and a labels.csv (deterministic per seed)",
                       description="Write synthetic captchas and a labels.csv; the same seed gives the same files "
                                   "whatever --workers is. Without --style, the captcha package draws them with "
                                   "--length, --size and --alphabet. A --style fixes its own size, label lengths "
                                   "and alphabet, so those three options are refused with it.")
    g.add_argument("out", help="output folder")
    g.add_argument("--count", type=int, default=1000)
    g.add_argument("--style", choices=style_names(),
                   help="a hard captcha style instead of the captcha package: %(choices)s "
                        "('random': a fresh random style per image; 'general': what the general model "
                        "learns from)")
    g.add_argument("--length", help=f"label length: N or N-M (default {_CAPTCHA_DEFAULTS['length']}; not with --style)")
    g.add_argument("--alphabet", help=f"characters to draw from (default {DEFAULT_ALPHABET}; not with --style)")
    g.add_argument("--size", help=f"image WIDTHxHEIGHT (default {_CAPTCHA_DEFAULTS['size']}; not with --style)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--workers", type=int, help="processes (default: one per CPU)")
    g.add_argument("--overwrite", action="store_true",
                   help="write into a folder that already holds images or a labels.csv (same-named files are replaced)")
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
    p.add_argument("--augment", default="none", choices=AUGMENTATIONS)
    p.add_argument("--count", type=int, default=16)
    p.add_argument("--cols", type=int, default=4)
    add_preset_arg(p)
    p.add_argument("--seed", type=int, default=0, help="which samples and which augmentation draws")
    p.add_argument("--zoom", type=float, default=None,
                   help="vertical zoom of every image before resizing, as train --zoom (default: the one train "
                        "would choose)")
    p.add_argument("--crop", default="auto",
                   help="the box of each image drawn, as train --crop: auto (default: the one train would "
                        "choose), none, or LEFT,TOP,RIGHT,BOTTOM fractions")
    p.add_argument("--init", metavar="MODEL",
                   help="as train --init: the model the run starts from (a model file, 'general', or 'none' for "
                        "random weights), whose input height, preprocessing and zoom rule the images are drawn with "
                        "(default: the preset's start)")
    p.add_argument("--case", choices=CASE_POLICIES, default="keep",
                   help="as train --case: how the labels the zoom is chosen with are cased (default: %(default)s)")
    p.add_argument("--label-order", choices=LABEL_ORDERS, default="typed",
                   help="as train --label-order: the order the labels list a right-to-left script's characters in "
                        "(default: %(default)s)")
    add_label_pattern_arg(p)
    p.set_defaults(func=cmd_preview)
