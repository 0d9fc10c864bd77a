"""``captcha-ocr label``: label a folder of captchas in the browser."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import add_label_pattern_arg


def cmd_label(a: argparse.Namespace) -> int:
    from ..errors import missing_extra

    try:
        import uvicorn

        from ..label_server import create_label_app
    except ImportError as exc:
        raise missing_extra("the labelling page", "serve", exc) from None
    from ..errors import DataError
    from ..labelling import LabelSession
    from ..retrain import RUNS_DIR, Retrainer, latest_model
    from ..samples import IMAGE_EXTENSIONS

    def say(msg: str) -> None:
        print(msg, file=sys.stderr)

    model = a.model
    retrained = latest_model(Path(a.dir) / RUNS_DIR)
    if retrained is not None:
        say(f"going on with the newest retrained model {retrained}" + (f" (not {model})" if model else ""))
        model = retrained
    session = LabelSession(a.dir, model, alphabet=a.alphabet, label_pattern=a.label_pattern, progress=say)
    for note in session.store.notes:
        say(note)
    p = session.progress()
    if not p["images"]:
        raise DataError(f"{a.dir}: no images found to label (looked for {', '.join(IMAGE_EXTENSIONS)})")
    say(f"{p['labelled']} of {p['images']} images labelled, {p['remaining']} to go"
        + (f", {p['unreadable']} unreadable" if p["unreadable"] else "") + f"; labels go to {session.store.path}")
    retrainer = Retrainer(session, minutes=a.retrain_minutes, every=a.retrain_every, epochs=a.retrain_epochs)
    app = create_label_app(session, retrainer)
    say(f"labelling {a.dir} on http://{a.host}:{a.port}")
    uvicorn.run(app, host=a.host, port=a.port, log_level=a.log_level, access_log=False)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``label`` on the ``captcha-ocr`` parser."""
    s = sub.add_parser("label", help="label a folder of captchas in the browser (labels.csv, model pre-fills)")
    s.add_argument("dir", help="folder of captcha images; labels are written to DIR/labels.csv")
    s.add_argument("--model", help="model whose readings pre-fill the labels (a .pt/.onnx file or a model name)")
    s.add_argument("--alphabet", help="the characters a label may use; others are refused")
    add_label_pattern_arg(s)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--retrain-minutes", type=float, default=2.0,
                   help="training budget of a retrain from the page (default: %(default)s)")
    s.add_argument("--retrain-epochs", type=int, metavar="N",
                   help="retrain for a fixed number of epochs instead of --retrain-minutes")
    s.add_argument("--retrain-every", type=int, default=0, metavar="N",
                   help="retrain by itself after every N new labels (default: only from the page's button)")
    s.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    s.set_defaults(func=cmd_label)
