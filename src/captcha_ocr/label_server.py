"""The labelling server: a FastAPI app around one :class:`~captcha_ocr.labelling.LabelSession`.

``GET /`` is the labelling page (``web/label.html``); its JSON API:

- ``GET /api/state``: the folder, alphabet, model, progress, recently handled images,
  unreadable files, retraining status.
- ``GET /api/next``: the image to label now (``next``, ``null`` when all are labelled), the few
  after it (``upcoming``, to preload) and ``progress``.
- ``GET /api/item?file=F`` and ``GET /api/image?file=F``: one image's label and reading; its bytes.
- ``POST /api/label`` ``{"file", "label"}``: save (``labels.csv`` is rewritten before the answer),
  then the same as ``/api/next``. ``POST /api/skip`` ``{"file"}``: to the back of the queue.
- ``POST /api/retrain`` starts a background run (202), ``GET /api/retrain`` follows it.

Bad input is a 4xx JSON ``{"detail": ...}`` as in :mod:`captcha_ocr.server`: 422 for a label the
store refuses (empty, control characters, characters outside ``--alphabet``) or a malformed
body, 404 for a file that is not one of the folder's images, 400 for an image that cannot be
read, 409 for a retrain that cannot start. Every answer carries a ``Server-Timing`` header (the
time the server spent on it), which ``bench/label_session.py`` reads from the browser.
"""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from .labelling import LabelSession, UnknownImageError
from .labelstore import LabelError
from .pages import mount_assets, page
from .retrain import MIN_LABELS, Retrainer, RetrainError
from .uploads import http_error

PRELOAD = 3  # images after the current one the page fetches ahead


class LabelBody(BaseModel):
    file: str
    label: str


class SkipBody(BaseModel):
    file: str


def create_label_app(session: LabelSession, retrainer: Retrainer | None = None) -> FastAPI:
    """A FastAPI app for labelling ``session``'s folder; ``retrainer`` (default: one with a
    2-minute budget, started only from the page) runs the background training."""
    retrainer = retrainer or Retrainer(session)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        retrainer.stop()

    app = FastAPI(title="captcha-ocr label", summary="Label a folder of captchas.", lifespan=lifespan)
    app.state.session = session
    app.state.retrainer = retrainer
    mount_assets(app)

    @app.middleware("http")
    async def server_timing(request: Request, call_next):
        t = time.perf_counter()
        response = await call_next(request)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - t) * 1000:.3f}"
        return response

    def item_dict(key: str) -> dict:
        out = session.item(key).to_dict()
        out["image"] = f"/api/image?file={quote(key)}"
        return out

    def queue_answer() -> dict:
        keys = session.upcoming(1 + PRELOAD)
        return {
            "next": item_dict(keys[0]) if keys else None,
            "upcoming": [f"/api/image?file={quote(k)}" for k in keys[1:]],
            "progress": session.progress(),
        }

    def known(fn, *args):
        try:
            return fn(*args)
        except UnknownImageError as exc:
            raise http_error(404, str(exc)) from None

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return page("label.html")

    @app.get("/api/state")
    def state() -> dict:
        """Everything the page shows around the image."""
        model = session.model
        return {
            "root": str(session.root),
            "labels_csv": str(session.store.path),
            "alphabet": session.alphabet,
            "model": None if model is None else {"source": model.source, "version": model.version,
                                                 "note": model.note},
            "progress": session.progress(),
            "recent": session.recent(),
            "unreadable": dict(list(session.unreadable.items())[:50]),
            "retrain": retrainer.status(),
            "retrain_every": retrainer.every,
            "min_labels": retrainer.min_labels,
        }

    @app.get("/api/next")
    def next_image() -> dict:
        """The image to label now and the few after it."""
        return queue_answer()

    @app.get("/api/item")
    def item(file: str = Query(..., description="the image's name in labels.csv")) -> dict:
        return known(item_dict, file)

    @app.get("/api/image")
    def image(file: str = Query(...)) -> FileResponse:
        path = known(session.path, file)
        error = session.unreadable.get(file)
        if error:
            raise http_error(400, error)
        return FileResponse(path, headers={"Cache-Control": "max-age=3600"})

    @app.post("/api/label")
    def label(body: LabelBody) -> dict:
        """Save a label (``labels.csv`` is on disk before the answer), then what comes next."""
        try:
            known(session.save, body.file, body.label)
        except LabelError as exc:
            raise http_error(422, f"{body.file}: {exc}") from None
        retrainer.after_label()
        return {"saved": {"file": body.file, "label": body.label}, **queue_answer()}

    @app.post("/api/skip")
    def skip(body: SkipBody) -> dict:
        known(session.skip, body.file)
        return {"skipped": body.file, **queue_answer()}

    @app.post("/api/retrain", status_code=202)
    def retrain() -> dict:
        """Start training on the labels so far, in the background."""
        try:
            return retrainer.start()
        except RetrainError as exc:
            raise http_error(409, str(exc)) from None

    @app.get("/api/retrain")
    def retrain_status() -> dict:
        return retrainer.status()

    return app


__all__ = ["create_label_app", "MIN_LABELS"]
