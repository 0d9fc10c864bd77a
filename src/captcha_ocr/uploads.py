"""HTTP request -> named image arrays, for ``POST /predict``; bad input is an HTTP 4xx.

A request holds images as multipart file(s) (field ``file`` or ``files``), as JSON
``{"images": [base64, ...]}`` / ``{"image": base64}``, or as a raw image body
(``Content-Type: image/*``). The limits are checked as early as possible: 413 for a body or
image over ``max_bytes``, an image over ``max_pixels`` (from its header, before decoding; the
check is :meth:`Preprocess.load <captcha_ocr.images.Preprocess.load>`'s) or a request over
``max_images``; 400 for empty, unreadable, bad base64 or malformed bodies; 415 for other content
types.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from fastapi import HTTPException, Request

from .errors import ImageLoadError, ImageTooLargeError
from .images import Preprocess

FILE_FIELDS = ("file", "files")

# the OpenAPI description of the bodies parse_images accepts
PREDICT_BODY = {
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


def http_error(status: int, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail=message)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise http_error(413, f"request body of {int(declared)} bytes is over the limit of {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise http_error(413, f"request body is over the limit of {limit} bytes")
    return bytes(body)


def _b64(value: object, name: str, max_bytes: int) -> bytes:
    if not isinstance(value, str):
        raise http_error(400, f"{name}: expected a base64 string, got {type(value).__name__}")
    text = value.split(",", 1)[1] if value.startswith("data:") else value  # data:image/png;base64,...
    text = "".join(text.split())
    text += "=" * (-len(text) % 4)  # tolerate missing padding
    if len(text) * 3 // 4 > max_bytes + 2:
        raise http_error(413, f"{name}: image is over the limit of {max_bytes} bytes")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise http_error(400, f"{name}: bad base64 ({exc})") from None


@dataclass
class Upload:
    name: str  # how errors name the image: its file name, images[i] or body
    data: bytes
    filename: str | None = None  # the multipart file name, if any


def _check_count(n: int, max_images: int) -> None:
    if n == 0:
        raise http_error(400, "no image in the request")
    if n > max_images:
        raise http_error(413, f"{n} images in one request; the limit is {max_images}")


async def parse_images(request: Request, body: bytes, max_bytes: int, max_images: int) -> list[Upload]:
    """One :class:`Upload` per image of a multipart, JSON or raw-image body, in order."""
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
                    raise http_error(400, f"field {key!r} holds text, not a file upload")
                name = value.filename or f"{key}[{len(items)}]"
                items.append(Upload(name, await value.read(), value.filename))
        finally:
            await form.close()
        if not items:
            raise http_error(400, "no image: send multipart file field(s) named 'file' or 'files'")
        _check_count(len(items), max_images)
        return items
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise http_error(400, f"malformed JSON body ({exc})") from None
        if isinstance(data, dict) and isinstance(data.get("images"), list):
            values = data["images"]
        elif isinstance(data, dict) and "image" in data:
            values = [data["image"]]
        else:
            raise http_error(400, 'JSON body must be {"images": [base64, ...]} or {"image": base64}')
        _check_count(len(values), max_images)
        return [Upload(f"images[{i}]", _b64(v, f"images[{i}]", max_bytes)) for i, v in enumerate(values)]
    if content_type.startswith("image/") or content_type == "application/octet-stream":
        return [Upload("body", body)]
    raise http_error(
        415,
        f"unsupported content type {content_type or '(none)'!r}: send multipart/form-data, "
        "application/json or an image/* body",
    )


def decode_image(preprocess: Preprocess, item: Upload, max_bytes: int, max_pixels: int,
                 widths: Sequence[int] | None = None, zooms: Sequence[float] = (1.0,)) -> list[np.ndarray]:
    """An uploaded image -> uint8 ``[C, H, w]`` for each of ``zooms`` at each of ``widths`` (default:
    the model's own width, unzoomed); HTTPException 400/413 for bad input."""
    name, data = item.name, item.data
    if len(data) > max_bytes:
        raise http_error(413, f"{name}: {len(data)} bytes is over the limit of {max_bytes}")
    try:
        return preprocess.load_widths(data, widths or (preprocess.width,), name, max_pixels, zooms)
    except ImageTooLargeError as exc:
        raise http_error(413, str(exc)) from None
    except ImageLoadError as exc:
        raise http_error(400, str(exc)) from None
