"""Headless Chromium driven by Selenium, for the page tests, ``bench/label_session.py`` and the
README's screenshots (the ``browser`` extra: ``pip install 'captcha-ocr[browser]'``).

The browser is the distribution's own (Debian: ``apt-get install chromium chromium-driver``),
found on the ``PATH`` or through ``CHROMIUM``/``CHROMEDRIVER``; nothing is downloaded.
``.ci/browser`` installs it where it is missing.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from typing import Any

from .errors import missing_extra

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL = "apt-get install -y chromium chromium-driver (or run `bash .ci/browser` as root)"


class BrowserMissingError(RuntimeError):
    """No Chromium or chromedriver on this machine; the message says how to install them."""


def find_chromium() -> tuple[str, str]:
    """``(browser, chromedriver)`` paths; :class:`BrowserMissingError` when either is missing."""
    browser = os.environ.get("CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    if not browser or not driver:
        missing = " and ".join(n for n, p in (("chromium", browser), ("chromedriver", driver)) if not p)
        raise BrowserMissingError(f"no {missing} on this machine: {INSTALL}")
    return browser, driver


def headless_chrome(width: int = 1280, height: int = 860) -> Any:
    """A Selenium ``webdriver.Chrome`` running the machine's Chromium headless; ``quit()`` it."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        raise missing_extra("driving a browser", "browser", exc) from None
    browser, driver = find_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--disable-extensions", "--no-first-run", f"--window-size={width},{height}",
                "--force-device-scale-factor=1", "--lang=en-GB"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=options)


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05,
               what: str = "the page") -> Any:
    """Poll ``predicate`` (an exception counts as not yet: the element is not there) until it
    returns something truthy, and return that; ``TimeoutError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:  # an element not there yet
            last = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what} (last: {last!r})")
