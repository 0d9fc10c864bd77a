"""The errors the library raises for its callers to report, in a module with no heavy imports
(the ONNX path never loads torch, and the CLI's ``main`` maps them to exit codes without
importing the code that raises them)."""

from __future__ import annotations


class DataError(ValueError):
    """A dataset problem the user can fix: the message names the file and the problem."""


class ImageLoadError(DataError):
    """An image that cannot be read."""


class ImageTooLargeError(ImageLoadError):
    """An image over a pixel limit (checked from its header, before decoding)."""


class ModelFileError(ValueError):
    """A model file that is missing or not a captcha-ocr model."""


class ExportError(RuntimeError):
    """ONNX Runtime and PyTorch disagree on the exported graph."""


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra that installs it."""


def missing_extra(what: str, extra: str, cause: ImportError) -> MissingExtraError:
    """``{what} needs the '{extra}' extra: pip install 'captcha-ocr[{extra}]' ({cause})``."""
    return MissingExtraError(f"{what} needs the {extra!r} extra: pip install 'captcha-ocr[{extra}]' ({cause})",
                             name=cause.name)


__all__ = ["DataError", "ImageLoadError", "ImageTooLargeError", "ModelFileError", "ExportError",
           "MissingExtraError", "missing_extra"]
