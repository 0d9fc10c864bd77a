"""What the command modules share: the options several commands take, and how to talk to the
terminal. Option choices come from the library's registries, never from lists kept here."""

from __future__ import annotations

import argparse
import os
import sys

from ..backends import BACKENDS
from ..config import PRESETS
from ..decode import DECODERS, DEFAULT_DECODER, DecodeOptions

EXIT_USER_ERROR = 2  # the user can fix it: a bad path, option or dataset
EXIT_FAILED = 1  # it ran, but not everything worked (some files unreadable, export parity)


def error_line(message: str) -> str:
    return f"captcha-ocr: error: {message}"


def print_error(message: str) -> None:
    print(error_line(message), file=sys.stderr)


def show_progress(no_progress: bool = False) -> bool:
    """Progress bars only on a terminal, never in CI, and not with ``--no-progress``."""
    return not no_progress and sys.stderr.isatty() and not os.environ.get("CI")


def confidence_arg(text: str) -> float:
    """An option that is a confidence: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number from 0 to 1, got {text!r}") from None
    if not 0 <= value <= 1:  # (NaN fails too)
        raise argparse.ArgumentTypeError(f"a number from 0 to 1, got {value:g}")
    return value


def count_arg(text: str) -> int:
    """An option that counts things: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"0 or more, got {value}")
    return value


def add_preset_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="default", choices=list(PRESETS),
                   help="model and training recipe: %(choices)s (default: %(default)s)")


def add_label_pattern_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--label-pattern", metavar="REGEX",
                   help="take the label from part of each file name (without extension): the regex must match the "
                        r"whole name, and its group 'label' or first group is the label, e.g. '(.+)_\d+' for "
                        "226md_0001.png")


def add_backend_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="auto", choices=BACKENDS,
                   help="torch for .pt, onnx (ONNX Runtime) for .onnx; auto picks by file suffix")


def add_decode_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--decoder", default=DEFAULT_DECODER, choices=DECODERS,
                   help="constrained (the default) = best path of an allowed length; greedy = best path; "
                        "beam = prefix beam search")
    p.add_argument("--length", help="allowed label lengths for --decoder constrained: 5, 4-6 or 4,6 "
                                    "(default: from the shortest to the longest label seen in training)")
    p.add_argument("--allow", help="only output these characters (a subset of the model's charset)")
    p.add_argument("--beam-width", type=int, default=10)


def add_widths_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--widths", default=None,
                   help="input widths in px to read each image at, keeping the reading they agree on: "
                        "comma-separated; 'model' for the model's own width only; 'near' for five from 0.79x "
                        "to 1.26x of it (default: eight from 64 to 304 for the general model, the model's own "
                        "for a trained one)")
    p.add_argument("--zooms", default=None,
                   help="vertical zooms to read each image at, at each width, keeping the reading they all agree "
                        "on: comma-separated (above 1 crops rows, below 1 adds rows); 'model' for none (default: "
                        "five from 0.71 to 1.41 for the general model, none for a trained one)")


def parse_zooms(text: str) -> tuple[float, ...]:
    """``--zooms``: comma-separated zooms, or 'model' for none (1.0); raises ``ValueError``."""
    if text.strip() == "model":
        return (1.0,)
    try:
        return tuple(float(z) for z in text.split(",") if z.strip())
    except ValueError as exc:
        raise ValueError(f"--zooms: {exc}") from None


def apply_widths(rec, a: argparse.Namespace) -> None:
    """Set ``rec.widths`` and ``rec.zooms`` from ``--widths`` and ``--zooms`` (:func:`add_widths_arg`);
    raises ``ValueError``."""
    zooms = getattr(a, "zooms", None)
    if zooms is not None:
        rec.zooms = parse_zooms(zooms)
    if a.widths is None:
        return
    if a.widths.strip() == "model":
        rec.widths = (rec.preprocess.width,)
        return
    if a.widths.strip() == "near":
        from ..widths import near_widths

        rec.widths = near_widths(rec.preprocess.width)
        return
    try:
        rec.widths = [int(w) for w in a.widths.split(",") if w.strip()]
    except ValueError as exc:
        raise ValueError(f"--widths: {exc}") from None


def decode_options(a: argparse.Namespace) -> DecodeOptions:
    """The :class:`DecodeOptions` of the arguments :func:`add_decode_args` added."""
    return DecodeOptions.parse(a.decoder, a.length, a.allow, a.beam_width)
