"""The ``captcha-ocr`` command: ``main`` and its parser.

Each command module registers its sub-commands and holds thin functions that parse, call the
library and print: :mod:`.train` (train, demo), :mod:`.predict` (eval, predict), :mod:`.data`
(generate, inspect, preview), :mod:`.serving` (export, serve), :mod:`.label` (label); :mod:`.common`
has what they share. They import nothing heavy until a command runs, and never this module (no cycle).

One error policy, here: the library raises, and :func:`main` prints
``captcha-ocr: error: <message>`` and exits 2 for what the user can fix (:data:`USER_ERRORS`:
missing files, bad data or options, unknown characters, a missing optional extra, a path that cannot
be written), 1 for an ONNX export that fails its parity check. A predict run where some files failed
exits 1.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..errors import DataError, ExportError, MissingExtraError, ModelFileError
from . import data, label, predict, serving, train
from .common import EXIT_FAILED, EXIT_USER_ERROR, print_error

# DataError and ModelFileError are ValueErrors; named for the reader. A ValueError is a bad
# option value that reached the library.
USER_ERRORS = (DataError, ModelFileError, MissingExtraError, FileNotFoundError, ValueError)
FAILURES = (ExportError,)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="captcha-ocr", description="Train, evaluate and run captcha recognisers.")
    ap.add_argument("--version", action="version", version=f"captcha-ocr {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    for commands in (train, predict, serving, label, data):
        commands.add_commands(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command line, for provenance
    try:
        return args.func(args)
    except USER_ERRORS as exc:
        print_error(str(exc))
        return EXIT_USER_ERROR
    except OSError as exc:  # a path the command cannot use: a file where a folder goes, no permission, a full disk
        print_error(f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc))
        return EXIT_USER_ERROR
    except FAILURES as exc:
        print_error(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt as exc:
        print_error(str(exc) or "interrupted")
        return 130
