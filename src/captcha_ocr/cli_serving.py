"""CLI commands for serving: ``export`` (ONNX) and ``serve`` (HTTP)."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this module's sub-commands on the ``captcha-ocr`` parser."""
