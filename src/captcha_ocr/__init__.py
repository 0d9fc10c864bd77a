"""captcha-ocr: train, evaluate and serve CRNN + CTC captcha recognisers."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Recognizer", "Prediction", "Charset", "__version__"]


def __getattr__(name: str):
    # Lazy, so `import captcha_ocr` stays light and never pulls in training libraries.
    if name in ("Recognizer", "Prediction"):
        from . import recognizer

        return getattr(recognizer, name)
    if name == "Charset":
        from .charset import Charset

        return Charset
    raise AttributeError(f"module 'captcha_ocr' has no attribute {name!r}")
