"""ONNX export: one ``.onnx`` file that serves on its own.

The graph maps ``images`` float32 ``[B, C, H, W]`` (already normalised) to ``logits``
``[B, T, K]``, with a dynamic batch axis. Everything else a recogniser needs is stored in the
file's ``metadata_props`` as JSON strings: ``charset``, ``preprocess``, ``lengths``, ``config``
and ``provenance`` (plus ``format`` / ``format_version``), so ONNX Runtime alone can read it
(:func:`read_metadata`). The file is written atomically, like :func:`~captcha_ocr.bundle.save_bundle`.

The classic TorchScript exporter (``dynamo=False``) is used: it handles the bidirectional GRU
well and needs no ``onnxscript``.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import ExportError, ModelFileError, missing_extra
from .files import write_atomic
from .shipped import is_general
from .widths import width_ladder

if TYPE_CHECKING:
    from .bundle import Bundle

FORMAT = "captcha-ocr-onnx"
FORMAT_VERSION = 1
# 20: the newest opset that every onnxruntime this package allows (>= 1.17) runs. The classic
# exporter of torch 2.13 writes this model at up to 22 (checked against onnxruntime 1.32).
DEFAULT_OPSET = 20
MIN_OPSET = 11
MAX_OPSET = 22
INPUT_NAME = "images"
OUTPUT_NAME = "logits"
METADATA_KEYS = ("charset", "preprocess", "lengths", "config", "provenance")


@dataclass
class ExportReport:
    """What :func:`export_onnx` wrote and how closely ONNX Runtime matches PyTorch."""

    path: Path
    opset: int
    max_abs_diff: float | None  # None when not verified
    batch_sizes: tuple[int, ...] = ()


def _metadata(bundle, opset: int, source: str | None) -> dict[str, str]:
    import torch

    from . import __version__

    provenance = dict(bundle.provenance)
    provenance["onnx_export"] = {
        "from": source,
        "opset": opset,
        "torch": torch.__version__,
        "captcha_ocr": __version__,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "charset": json.dumps(bundle.charset.to_dict(), ensure_ascii=False),
        "preprocess": json.dumps(bundle.preprocess.to_dict()),
        "lengths": json.dumps(list(bundle.lengths)),
        "config": json.dumps(bundle.config.to_dict()),
        "provenance": json.dumps(provenance, ensure_ascii=False, default=str),
    }


def _export_bytes(model, example, opset: int, any_width: bool = False) -> bytes:
    """Trace ``model`` on ``example`` ``[1, C, H, W]`` -> serialized ONNX with a dynamic batch axis and,
    with ``any_width``, a dynamic width axis too (the frames follow it), so it reads at the widths
    :mod:`captcha_ocr.widths` asks for. A fixed width runs faster in ONNX Runtime (RESULTS)."""
    import io

    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():
        # The legacy exporter warns about itself, about tracing, and about GRU batch sizes
        # (harmless here: h0 is not an input, so any batch size runs; checked in verify).
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            buf,
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch", **({3: "width"} if any_width else {})},
                          OUTPUT_NAME: {0: "batch", **({1: "frames"} if any_width else {})}},
            do_constant_folding=True,
        )
    return buf.getvalue()


def verify_onnx(model, onnx_bytes: bytes, shape: tuple[int, int, int], batch_sizes=(1, 3, 16), seed: int = 0,
                widths: tuple[int, ...] = ()) -> float:
    """Largest ``|ORT - torch|`` logit difference over random inputs of each batch size (at the
    width of ``shape``), and of one image at each other width of ``widths``."""
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    worst = 0.0
    c, h, w = shape
    for b, width in [(b, w) for b in batch_sizes] + [(1, other) for other in widths if other != w]:
        x = rng.standard_normal((b, c, h, width)).astype(np.float32)
        with torch.inference_mode():
            ref = model(torch.from_numpy(x)).numpy()
        got = session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
        if got.shape != ref.shape:
            raise ExportError(f"ONNX output shape {got.shape} != PyTorch {ref.shape} at batch {b}, width {width}")
        diff = float(np.abs(got - ref).max())
        if not np.isfinite(diff):  # a NaN or infinite logit on either side: no parity to speak of
            return float("nan")
        worst = max(worst, diff)
    return worst


def export_onnx(
    model_path: str | os.PathLike | Bundle,
    out_path: str | os.PathLike,
    opset: int = DEFAULT_OPSET,
    verify: bool = True,
    tolerance: float = 1e-4,
    any_width: bool | None = None,
) -> ExportReport:
    """Export a captcha-ocr model file (``.pt``, or an in-memory Bundle) to a self-contained ONNX file.

    ``any_width``: the graph takes any input width (``--widths``), at some cost in speed; default:
    only for the general model, which reads at several (:mod:`captcha_ocr.widths`).

    With ``verify`` (default) ONNX Runtime is run on random batches of 1, 3 and 16 images (and, with
    ``any_width``, on one image at each width of :func:`~captcha_ocr.widths.width_ladder`), and
    :class:`ExportError` is raised (and nothing written) when a logit differs from PyTorch's
    by more than ``tolerance``. Raises :class:`~captcha_ocr.errors.ModelFileError` for a bad
    model file, ``ValueError`` for an unsupported ``opset`` or an ``out_path`` not named ``*.onnx``, and
    :class:`~captcha_ocr.errors.MissingExtraError` without the ``onnx`` extra.
    """
    import torch

    try:
        import onnx

        if verify:
            import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise missing_extra("export", "onnx", exc) from None

    from .bundle import Bundle, load_bundle

    if not tolerance >= 0:
        raise ValueError(f"--tolerance: a logit difference of 0 or more, got {tolerance}")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"opset {opset} is not supported: use {MIN_OPSET}..{MAX_OPSET} (default {DEFAULT_OPSET})")
    source = None if isinstance(model_path, Bundle) else str(model_path)
    if Path(out_path).suffix.lower() != ".onnx":
        raise ValueError(f"{out_path}: name the ONNX file *.onnx (a model is loaded by its suffix: any other is "
                         f"read as a PyTorch model file)")
    if source is not None and Path(out_path).resolve() == Path(source).resolve():
        raise ValueError(f"{out_path}: the ONNX file would replace the model it is exported from")
    bundle = model_path if isinstance(model_path, Bundle) else load_bundle(model_path)
    model = bundle.build_model()
    pre = bundle.preprocess
    shape = (pre.channels, pre.height, pre.width)
    if any_width is None:
        any_width = is_general(bundle.provenance)
    data = _export_bytes(model, torch.zeros(1, *shape), opset, any_width)
    diff = None
    batch_sizes: tuple[int, ...] = ()
    if verify:
        batch_sizes = (1, 3, 16)
        name = source or "model"
        try:
            diff = verify_onnx(model, data, shape, batch_sizes, widths=width_ladder(pre.width) if any_width else ())
        except ExportError as exc:
            raise ExportError(f"{name}: {exc}; nothing written") from None
        if not diff <= tolerance:  # (a NaN logit fails too)
            raise ExportError(f"{name}: ONNX Runtime logits differ from PyTorch by {diff:.3g} (> {tolerance:g}); "
                              "nothing written")
    proto = onnx.load_from_string(data)
    del proto.metadata_props[:]
    for key, value in _metadata(bundle, opset, source).items():
        proto.metadata_props.add(key=key, value=value)
    proto.producer_name = "captcha-ocr"
    data = proto.SerializeToString()
    out = write_atomic(Path(out_path), lambda fh: fh.write(data))
    return ExportReport(out, opset, diff, batch_sizes)


def read_metadata(custom: dict[str, str], path: str | os.PathLike = "<onnx>") -> dict:
    """Parse a session's ``custom_metadata_map`` (or an ONNX file's ``metadata_props``).

    Returns ``{"charset": dict, "preprocess": dict, "lengths": list, "config": dict,
    "provenance": dict}``; raises :class:`~captcha_ocr.errors.ModelFileError` when the file
    was not written by :func:`export_onnx` or is newer than this version understands.
    """
    problem = None
    if custom.get("format") != FORMAT:
        problem = "an ONNX file without captcha-ocr metadata (export it with `captcha-ocr export`)"
    elif not str(custom.get("format_version", "")).isdigit():
        problem = "damaged captcha-ocr metadata (format_version)"
    elif int(custom["format_version"]) > FORMAT_VERSION:
        problem = (f"ONNX model format {custom['format_version']} is newer than this captcha-ocr "
                   f"understands ({FORMAT_VERSION}); upgrade captcha-ocr")
    else:
        try:
            return {key: json.loads(custom[key]) for key in METADATA_KEYS}
        except (KeyError, json.JSONDecodeError) as exc:
            problem = f"damaged captcha-ocr metadata ({type(exc).__name__}: {exc})"
    raise ModelFileError(f"{path}: {problem}")
