"""The errors a user can fix, in a module with no heavy imports (the ONNX path never loads torch)."""

from __future__ import annotations


class DataError(ValueError):
    """A dataset problem the user can fix: the message names the file and the problem."""


class ModelFileError(ValueError):
    """A model file that is missing or not a captcha-ocr model."""


__all__ = ["DataError", "ModelFileError"]
