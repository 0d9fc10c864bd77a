"""HTTP serving: a thin FastAPI app around one :class:`~captcha_ocr.recognizer.Recognizer`.

``POST /predict`` takes images as multipart file(s) (field ``file`` or ``files``), as JSON
``{"images": [base64, ...]}`` / ``{"image": base64}``, or as a raw image body
(``Content-Type: image/*``), and answers one prediction per image, in order. ``GET /health``
and ``GET /model`` describe the service; FastAPI serves the OpenAPI docs at ``/docs``.

Bad input is answered with a 4xx JSON ``{"detail": ...}``, never a 500: 400 (empty, not an
image, bad base64, malformed body), 413 (over ``max_bytes`` per image, ``max_pixels`` per
image -- checked from the image header before decoding -- or ``max_images`` per request), 415
(unsupported content type), 422 (bad query parameters: unknown decoder, bad length, characters
the model does not know).

Image decoding and CTC decoding run in the thread pool; model calls run in one worker thread,
a :class:`MicroBatcher` that gathers the images of concurrent requests for up to
``batch_window_ms`` into one batch. The event loop never runs model code.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from .decode import parse_lengths
from .errors import ImageLoadError, ImageTooLargeError
from .recognizer import Recognizer

DEFAULT_MAX_BYTES = 1_000_000
DEFAULT_MAX_PIXELS = 4_000_000
DEFAULT_MAX_IMAGES = 64
DEFAULT_BATCH_WINDOW_MS = 2.0
DEFAULT_MAX_BATCH = 64
FILE_FIELDS = ("file", "files")


# ----------------------------------------------------------------------------- micro-batching


@dataclass
class BatchResult:
    """One request's share of a model call: logits ``[n, T, K]`` and timings."""

    logits: np.ndarray
    queue_ms: float
    model_ms: float
    batch_size: int


@dataclass
class _Job:
    x: np.ndarray  # [n, C, H, W] float32
    future: Future
    queued_at: float


class MicroBatcher:
    """Runs ``logits_fn`` in one worker thread over the images of many requests at once.

    :meth:`submit` queues ``x`` ``[n, C, H, W]`` and returns a ``Future`` of a
    :class:`BatchResult`. The worker takes the first waiting job, then keeps collecting jobs
    for up to ``window_ms`` or until ``max_batch`` images, runs one model call (in chunks of
    ``max_batch``), and hands each job its rows. The thread starts on the first submit and
    stops on :meth:`close`.
    """

    def __init__(self, logits_fn: Callable[[np.ndarray], object], window_ms: float = DEFAULT_BATCH_WINDOW_MS,
                 max_batch: int = DEFAULT_MAX_BATCH) -> None:
        self.logits_fn = logits_fn
        self.window = max(0.0, window_ms) / 1000.0
        self.max_batch = max(1, int(max_batch))
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, x: np.ndarray) -> Future:
        fut: Future = Future()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="captcha-ocr-batcher", daemon=True)
                self._thread.start()
        self._queue.put(_Job(x, fut, time.perf_counter()))
        return fut

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker thread (a later :meth:`submit` starts a new one)."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join(timeout)

    def _collect(self, first: _Job) -> tuple[list[_Job], _Job | None, bool]:
        """Jobs for one model call, the job that did not fit (next call's first), and stop."""
        jobs, n = [first], len(first.x)
        deadline = time.perf_counter() + self.window
        while n < self.max_batch:
            remaining = deadline - time.perf_counter()
            try:
                job = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, None, True
            if n + len(job.x) > self.max_batch:
                return jobs, job, False
            jobs.append(job)
            n += len(job.x)
        return jobs, None, False

    def _run(self) -> None:
        carry: _Job | None = None
        stop = False
        while not stop:
            first = carry if carry is not None else self._queue.get()
            if first is None:
                break
            jobs, carry, stop = self._collect(first)
            started = time.perf_counter()
            try:
                x = np.concatenate([j.x for j in jobs]) if len(jobs) > 1 else jobs[0].x
                logits = np.concatenate(
                    [np.asarray(self.logits_fn(x[i : i + self.max_batch])) for i in range(0, len(x), self.max_batch)]
                )
            except BaseException as exc:  # hand the failure to every waiting request
                for j in jobs:
                    j.future.set_exception(exc)
                continue
            model_ms = (time.perf_counter() - started) * 1000
            offset = 0
            for j in jobs:
                n = len(j.x)
                queue_ms = (started - j.queued_at) * 1000
                j.future.set_result(BatchResult(logits[offset : offset + n], queue_ms, model_ms, len(x)))
                offset += n
        if carry is not None:
            carry.future.set_exception(RuntimeError("the batcher is closed"))


# ----------------------------------------------------------------------------- response models


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
    timing_ms: Timing


class PredictResponse(BaseModel):
    predictions: list[ImagePrediction]
    decoder: str
    backend: str


class Health(BaseModel):
    status: str
    backend: str
    uptime_s: float


_PREDICT_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                },
            }
        },
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "images": {"type": "array", "items": {"type": "string", "format": "byte"}},
                    "image": {"type": "string", "format": "byte"},
                },
            }
        },
        "image/png": {"schema": {"type": "string", "format": "binary"}},
    },
}


# ----------------------------------------------------------------------------- request parsing


def _fail(status: int, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail=message)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _fail(413, f"request body of {int(declared)} bytes is over the limit of {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _fail(413, f"request body is over the limit of {limit} bytes")
    return bytes(body)


def _b64(value: object, name: str, max_bytes: int) -> bytes:
    if not isinstance(value, str):
        raise _fail(400, f"{name}: expected a base64 string, got {type(value).__name__}")
    text = value.split(",", 1)[1] if value.startswith("data:") else value  # data:image/png;base64,...
    text = "".join(text.split())
    text += "=" * (-len(text) % 4)  # tolerate missing padding
    if len(text) * 3 // 4 > max_bytes + 2:
        raise _fail(413, f"{name}: image is over the limit of {max_bytes} bytes")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _fail(400, f"{name}: bad base64 ({exc})") from None


@dataclass
class _Upload:
    name: str  # how errors name the image: its file name, images[i] or body
    data: bytes
    filename: str | None = None  # the multipart file name, if any


def _check_count(n: int, max_images: int) -> None:
    if n == 0:
        raise _fail(400, "no image in the request")
    if n > max_images:
        raise _fail(413, f"{n} images in one request; the limit is {max_images}")


async def _parse_images(request: Request, body: bytes, max_bytes: int, max_images: int) -> list[_Upload]:
    """One :class:`_Upload` per image of a multipart, JSON or raw-image body, in order."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        form = await Request(request.scope, replay).form(max_files=1000, max_fields=1000)
        try:
            items = []
            for key, value in form.multi_items():
                if key not in FILE_FIELDS:
                    continue
                if isinstance(value, str):
                    raise _fail(400, f"field {key!r} holds text, not a file upload")
                name = value.filename or f"{key}[{len(items)}]"
                items.append(_Upload(name, await value.read(), value.filename))
        finally:
            await form.close()
        if not items:
            raise _fail(400, "no image: send multipart file field(s) named 'file' or 'files'")
        _check_count(len(items), max_images)
        return items
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _fail(400, f"malformed JSON body ({exc})") from None
        if isinstance(data, dict) and isinstance(data.get("images"), list):
            values = data["images"]
        elif isinstance(data, dict) and "image" in data:
            values = [data["image"]]
        else:
            raise _fail(400, 'JSON body must be {"images": [base64, ...]} or {"image": base64}')
        _check_count(len(values), max_images)
        return [_Upload(f"images[{i}]", _b64(v, f"images[{i}]", max_bytes)) for i, v in enumerate(values)]
    if content_type.startswith("image/") or content_type == "application/octet-stream":
        return [_Upload("body", body)]
    raise _fail(
        415,
        f"unsupported content type {content_type or '(none)'!r}: send multipart/form-data, "
        "application/json or an image/* body",
    )


# ----------------------------------------------------------------------------- the app


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

    def load_images(items: list[_Upload]) -> tuple[np.ndarray, list[float]]:
        arrays, times = [], []
        for item in items:
            t = time.perf_counter()
            arrays.append(_decode_image(rec, item.name, item.data, max_bytes, max_pixels))
            times.append((time.perf_counter() - t) * 1000)
        return rec.preprocess.normalize(np.stack(arrays)), times

    @app.get("/health", response_model=Health)
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
            "preprocess": pre.to_dict(),
            "time_steps": rec.time_steps,
            "lengths": rec.lengths,
            "config": rec.config,
            "provenance": rec.provenance,
            "limits": {"max_bytes": max_bytes, "max_pixels": max_pixels, "max_images": max_images},
        }

    @app.post("/predict", response_model=PredictResponse, openapi_extra={"requestBody": _PREDICT_BODY})
    async def predict(
        request: Request,
        decoder: Literal["greedy", "beam", "constrained"] = "greedy",
        length: str | None = Query(None, description="allowed text lengths for constrained: 5, 4-6 or 4,6"),
        allow: str | None = Query(None, description="only output these characters (a subset of the charset)"),
        beam_width: int = Query(10, ge=1, le=100),
    ) -> PredictResponse:
        """Read the text of each image: multipart ``file``/``files``, JSON base64, or a raw image body."""
        t0 = time.perf_counter()
        try:
            lengths = parse_lengths(length) if length else None
        except ValueError as exc:
            raise _fail(422, f"length: {exc}") from None
        if allow:
            unknown = rec.charset.unknown(allow)
            if unknown:
                raise _fail(422, f"allow: characters the model does not know: {unknown}")
        body = await _read_body(request, max_request)
        items = await _parse_images(request, body, max_bytes, max_images)
        x, decode_times = await run_in_threadpool(load_images, items)
        result: BatchResult = await asyncio.wrap_future(batcher.submit(x))
        t = time.perf_counter()
        try:
            preds = await run_in_threadpool(rec.decode_logits, result.logits, decoder, lengths, allow, beam_width)
        except ValueError as exc:
            raise _fail(422, str(exc)) from None
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
                    timing_ms=Timing(decode_ms=round(dt, 3), queue_ms=round(result.queue_ms, 3),
                                     model_ms=round(result.model_ms, 3), ctc_ms=round(ctc_ms, 3),
                                     total_ms=round(total_ms, 3), batch=result.batch_size),
                )
                for i, (item, p, dt) in enumerate(zip(items, preds, decode_times))
            ],
        )

    return app


def _decode_image(rec: Recognizer, name: str, data: bytes, max_bytes: int, max_pixels: int) -> np.ndarray:
    """Bytes -> uint8 ``[C, H, W]`` at the model's size; HTTPException 400/413 for bad input."""
    if len(data) > max_bytes:
        raise _fail(413, f"{name}: {len(data)} bytes is over the limit of {max_bytes}")
    try:
        return rec.preprocess.load(data, name, max_pixels)
    except ImageTooLargeError as exc:
        raise _fail(413, str(exc)) from None
    except ImageLoadError as exc:
        raise _fail(400, str(exc)) from None


def _version() -> str:
    from . import __version__

    return __version__
