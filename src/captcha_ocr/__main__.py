"""``python -m captcha_ocr ARGS``: the ``captcha-ocr`` command (also how multi-process
training restarts itself in its other processes when run this way)."""

import sys

from captcha_ocr.cli import main

if __name__ == "__main__":
    sys.exit(main())
