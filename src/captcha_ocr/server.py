"""HTTP serving: a thin FastAPI app around one :class:`~captcha_ocr.recognizer.Recognizer`.

``POST /predict`` takes images (multipart, JSON base64 or a raw body: :mod:`captcha_ocr.uploads`)
and answers one prediction per image, in order (with ``alignment=true``, each image's raw
per-frame reading too). ``GET /health`` and ``GET /model`` describe the service; FastAPI serves
the OpenAPI docs at ``/docs``, and ``GET /`` is a page to try the model in a browser
(``web/serve.html``: drop, paste or pick an image; it calls ``/predict``).

Bad input is answered with a 4xx JSON ``{"detail": ...}``, never a 500: 400, 413 and 415 from
reading the request (:mod:`captcha_ocr.uploads`), 422 for bad query parameters (unknown
decoder, bad length, characters the model does not know).

A recogniser that reads at several input widths and zooms (the general model:
:mod:`captcha_ocr.widths`, :mod:`captcha_ocr.zooms`) makes one batch per view and keeps the reading
they agree on, as ``predict`` does.

Image decoding and CTC decoding run in the thread pool; model calls run in one worker thread,
a :class:`~captcha_ocr.batcher.MicroBatcher` that gathers the images of concurrent requests for
up to ``batch_window_ms`` into one batch. The event loop never runs model code.
"""

from __future__ import annotations

import asyncio
import os
import time
from contextlib import asynccontextmanager
from typing import Literal

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel

from .batcher import DEFAULT_BATCH_WINDOW_MS, DEFAULT_MAX_BATCH, BatchResult, MicroBatcher
from .decode import DECODERS, DEFAULT_DECODER, DecodeOptions
from .pages import mount_assets, page
from .recognizer import Recognizer
from .uploads import PREDICT_BODY, Upload, decode_image, http_error, parse_images, read_body

DEFAULT_MAX_BYTES = 1_000_000
DEFAULT_MAX_PIXELS = 4_000_000
DEFAULT_MAX_IMAGES = 64


class Timing(BaseModel):
    decode_ms: float  # bytes -> preprocessed array, this image
    queue_ms: float  # waiting for the model, this request
    model_ms: float  # the model call this image was part of (shared by `batch` images)
    ctc_ms: float  # CTC decoding of this request's images
    total_ms: float  # the whole request, from receipt to answer
    batch: int  # images in that model call


class ImagePrediction(BaseModel):
    index: int
    filename: str | None = None
    text: str
    confidence: float
    char_confidences: list[float]
    alignment: str | None = None  # the best class per frame, "-" for the blank (with alignment=true)
    timing_ms: Timing


class PredictResponse(BaseModel):
    predictions: list[ImagePrediction]
    decoder: str
    backend: str


class Health(BaseModel):
    status: str
    backend: str
    uptime_s: float


def create_app(
    model: str | os.PathLike | Recognizer,
    *,
    backend: str = "auto",
    threads: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_images: int = DEFAULT_MAX_IMAGES,
    batch_window_ms: float = DEFAULT_BATCH_WINDOW_MS,
    max_batch: int = DEFAULT_MAX_BATCH,
) -> FastAPI:
    """A FastAPI app serving ``model`` (a ``.pt``/``.onnx`` path or a loaded :class:`Recognizer`).

    ``max_bytes`` and ``max_pixels`` limit each image, ``max_images`` each request;
    ``batch_window_ms`` is how long the batcher waits for more requests before a model call
    (0 = batch only what is already waiting), ``max_batch`` the most images per model call.
    ``backend`` and ``threads`` are passed to :meth:`Recognizer.load` for a path.
    """
    limits = dict(max_bytes=max_bytes, max_pixels=max_pixels, max_images=max_images, max_batch=max_batch)
    for name, value in limits.items():
        if value < 1:
            raise ValueError(f"--{name.replace('_', '-')}: must be at least 1, got {value}")
    if not batch_window_ms >= 0:
        raise ValueError(f"--batch-window-ms: must be 0 or more, got {batch_window_ms}")
    rec = model if isinstance(model, Recognizer) else Recognizer.load(model, backend=backend, threads=threads)
    source = None if isinstance(model, Recognizer) else str(model)
    batcher = MicroBatcher(rec.logits, batch_window_ms, max_batch)
    max_request = max_images * (max_bytes * 4 // 3 + 1024) + 65536  # base64 + multipart overhead
    started = time.time()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        batcher.close()

    app = FastAPI(
        title="captcha-ocr",
        summary="Read captchas with a CRNN + CTC model.",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.recognizer = rec
    app.state.batcher = batcher
    mount_assets(app)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        """A page to try the model: drop, paste or pick an image."""
        return page("serve.html")

    def load_images(items: list[Upload]) -> tuple[list[np.ndarray], list[float]]:
        """-> one normalised ``[B, C, H, w]`` batch per view (``rec.zooms`` x ``rec.widths``), and each
        image's ms."""
        arrays, times = [], []
        for item in items:
            t = time.perf_counter()
            arrays.append(decode_image(rec.preprocess, item, max_bytes, max_pixels, rec.widths, rec.zooms))
            times.append((time.perf_counter() - t) * 1000)
        return rec.width_batches(arrays), times

    @app.get("/health", response_model=Health)
    @app.head("/health", include_in_schema=False)  # load balancers that check with HEAD
    async def health() -> Health:
        """Liveness: the model is loaded and the server answers."""
        return Health(status="ok", backend=rec.backend.name, uptime_s=round(time.time() - started, 3))

    @app.get("/model")
    async def model_info() -> dict:
        """What is served: charset, input image size and normalisation, lengths, provenance."""
        pre = rec.preprocess
        return {
            "backend": rec.backend.name,
            "source": source,
            "charset": rec.charset.chars,
            "num_classes": rec.charset.num_classes,
            "image": {"height": pre.height, "width": pre.width, "channels": pre.channels},
            "widths": list(rec.widths),
            "zooms": list(rec.zooms),
            "preprocess": pre.to_dict(),
            "time_steps": rec.time_steps,
            "lengths": rec.lengths,
            "config": rec.config,
            "provenance": rec.provenance,
            "limits": {"max_bytes": max_bytes, "max_pixels": max_pixels, "max_images": max_images},
        }

    @app.post("/predict", response_model=PredictResponse, openapi_extra={"requestBody": PREDICT_BODY})
    async def predict(
        request: Request,
        decoder: Literal[DECODERS] = DEFAULT_DECODER,  # one of the decoders' names
        length: str | None = Query(None, description="allowed text lengths for constrained: 5, 4-6 or 4,6 "
                                                   "(default: those of the training labels)"),
        allow: str | None = Query(None, description="only output these characters (a subset of the charset)"),
        beam_width: int = Query(10, ge=1, le=100),
        alignment: bool = Query(False, description="also answer each image's best class per frame ('-' = blank)"),
    ) -> PredictResponse:
        """Read the text of each image: multipart ``file``/``files``, JSON base64, or a raw image body."""
        t0 = time.perf_counter()
        try:
            options = DecodeOptions.parse(decoder, length, allow, beam_width)
        except ValueError as exc:
            raise http_error(422, f"length: {exc}") from None
        try:
            rec.check_allow(options)
        except ValueError as exc:
            raise http_error(422, str(exc)) from None
        body = await read_body(request, max_request)
        items = await parse_images(request, body, max_bytes, max_images)
        batches, decode_times = await run_in_threadpool(load_images, items)
        futures = [asyncio.wrap_future(batcher.submit(x)) for x in batches]  # one per view
        results: list[BatchResult] = list(await asyncio.gather(*futures))
        result = results[0]
        t = time.perf_counter()
        try:
            preds, aligned = await run_in_threadpool(rec.decode_widths, [r.logits for r in results], options,
                                                     None, alignment)
        except ValueError as exc:
            raise http_error(422, str(exc)) from None
        ctc_ms = (time.perf_counter() - t) * 1000
        total_ms = (time.perf_counter() - t0) * 1000
        return PredictResponse(
            decoder=decoder,
            backend=rec.backend.name,
            predictions=[
                ImagePrediction(
                    index=i,
                    filename=item.filename,
                    text=p.text,
                    confidence=p.confidence,
                    char_confidences=p.char_confidences,
                    alignment=a,
                    timing_ms=Timing(decode_ms=round(dt, 3), queue_ms=round(result.queue_ms, 3),
                                     model_ms=round(sum(r.model_ms for r in results), 3), ctc_ms=round(ctc_ms, 3),
                                     total_ms=round(total_ms, 3), batch=result.batch_size),
                )
                for i, (item, p, dt, a) in enumerate(zip(items, preds, decode_times, aligned))
            ],
        )

    return app


def _version() -> str:
    from . import __version__

    return __version__
