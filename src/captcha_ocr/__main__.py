"""``python -m captcha_ocr``: the ``captcha-ocr`` command."""

import sys

from .cli import main

sys.exit(main())
