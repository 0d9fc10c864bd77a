"""``captcha-ocr export`` (ONNX) and ``captcha-ocr serve`` (HTTP)."""

from __future__ import annotations

import argparse
import sys

from .common import add_backend_arg, add_widths_arg, apply_widths


def cmd_export(a: argparse.Namespace) -> int:
    from ..export import export_onnx

    report = export_onnx(a.model, a.out, opset=a.opset, verify=not a.no_verify, tolerance=a.tolerance,
                         any_width=True if a.any_width else None)
    print(f"wrote {report.path} (opset {report.opset})")
    if report.max_abs_diff is not None:
        sizes = ", ".join(map(str, report.batch_sizes))
        print(f"ONNX Runtime vs PyTorch: max |logit difference| {report.max_abs_diff:.2e} (batches of {sizes})")
    return 0


def cmd_serve(a: argparse.Namespace) -> int:
    from ..errors import missing_extra

    try:
        import uvicorn

        from ..server import create_app
    except ImportError as exc:
        raise missing_extra("serving", "serve", exc) from None
    limits = {k: getattr(a, k) for k in ("max_bytes", "max_pixels", "max_images", "batch_window_ms", "max_batch")}
    app = create_app(a.model, backend=a.backend, threads=a.threads,
                     **{k: v for k, v in limits.items() if v is not None})
    rec = app.state.recognizer
    apply_widths(rec, a)
    print(f"serving {a.model} ({rec.backend.name}) on http://{a.host}:{a.port} (docs at /docs)", file=sys.stderr)
    uvicorn.run(app, host=a.host, port=a.port, log_level=a.log_level, access_log=not a.no_access_log)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``export`` and ``serve`` on the ``captcha-ocr`` parser."""
    from ..export import DEFAULT_OPSET  # light; the server module (fastapi) is imported only by `serve`

    x = sub.add_parser("export", help="export a model to ONNX (one file with charset and preprocessing)")
    x.add_argument("model", help="model file (.pt) written by train")
    x.add_argument("out", help="ONNX file to write, e.g. model.onnx")
    x.add_argument("--opset", type=int, default=DEFAULT_OPSET)
    x.add_argument("--tolerance", type=float, default=1e-4, help="largest allowed |ONNX - torch| logit difference")
    x.add_argument("--no-verify", action="store_true", help="skip the ONNX Runtime parity check")
    x.add_argument("--any-width", action="store_true",
                   help="let the graph take any input width, so --widths works with the .onnx file (a little "
                        "slower in ONNX Runtime; always on for the general model)")
    x.set_defaults(func=cmd_export)

    s = sub.add_parser("serve", help="serve a model over HTTP (POST /predict, GET /health, /model, /docs)")
    s.add_argument("model", help="model file: .pt (torch) or .onnx (ONNX Runtime)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    add_backend_arg(s)
    add_widths_arg(s)
    s.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads (default: its own choice)")
    s.add_argument("--max-bytes", type=int, help="largest image file accepted (default 1000000)")
    s.add_argument("--max-pixels", type=int, help="largest width x height accepted (default 4000000)")
    s.add_argument("--max-images", type=int, help="most images per request (default 64)")
    s.add_argument("--batch-window-ms", type=float,
                   help="how long to gather concurrent requests into one model call (default 2; 0 = no waiting)")
    s.add_argument("--max-batch", type=int, help="most images per model call (default 64)")
    s.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    s.add_argument("--no-access-log", action="store_true")
    s.set_defaults(func=cmd_serve)
