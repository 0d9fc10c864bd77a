"""CLI commands for data tools: ``generate``, ``inspect``, ``preview``."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this module's sub-commands on the ``captcha-ocr`` parser."""
