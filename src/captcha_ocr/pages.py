"""The browser pages' assets: plain HTML, JavaScript and CSS in ``captcha_ocr/web/``, package
data served by the package itself (no CDN, no build step, nothing fetched at run time)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

WEB = Path(__file__).resolve().parent / "web"
PAGES = ("label.html", "serve.html")


def mount_assets(app: FastAPI) -> None:
    """Serve ``captcha_ocr/web/`` at ``/static``."""
    app.mount("/static", StaticFiles(directory=WEB), name="static")


def page(name: str) -> FileResponse:
    """One of :data:`PAGES` as an HTML response."""
    if name not in PAGES:
        raise ValueError(f"unknown page {name!r}")
    return FileResponse(WEB / name, media_type="text/html", headers={"Cache-Control": "no-cache"})
