"""Take the README's screenshots of the two pages with headless Chromium.

    python docs/screenshots.py --model runs/mine/model.pt     # writes docs/label.png, docs/serve.png

The label page: 40 generated captchas, a dozen labelled by keyboard, a retrain running. The
serve page: one generated captcha picked. Both servers run in this process (uvicorn threads).
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image

DOCS = Path(__file__).resolve().parent


def serve(app) -> tuple[str, object]:
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}/", server


def wait(pred, timeout: float = 120) -> None:
    from captcha_ocr.browser import wait_until

    try:
        wait_until(pred, timeout, interval=0.1)
    except TimeoutError as exc:
        raise SystemExit(str(exc)) from None


def save_small(png: bytes, path: Path) -> None:
    """A screenshot as a palette PNG (a fraction of the size, and still sharp)."""
    import io

    Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=128, dither=Image.Dither.NONE).save(
        path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--out", type=Path, default=DOCS)
    args = ap.parse_args()

    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from captcha_ocr.browser import headless_chrome
    from captcha_ocr.label_server import create_label_app
    from captcha_ocr.labelling import LabelSession
    from captcha_ocr.retrain import Retrainer
    from captcha_ocr.samples import find_samples
    from captcha_ocr.server import create_app
    from captcha_ocr.synth import generate

    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "scraped"
        generate(folder, 40, lengths=(4, 5), alphabet=alphabet, seed=11)
        truth = {}
        for i, s in enumerate(find_samples(folder)):
            s.path.rename(folder / f"captcha_{i:04d}.png")
            truth[f"captcha_{i:04d}.png"] = s.label
        (folder / "labels.csv").unlink()
        d = headless_chrome(1180, 860)
        session = LabelSession(folder, args.model, alphabet=alphabet)
        retrainer = Retrainer(session, minutes=1)
        try:
            url, server = serve(create_label_app(session, retrainer))
            d.get(url)
            for _ in range(12):
                wait(lambda: d.find_element(By.ID, "file").text)
                name = d.find_element(By.ID, "file").text.split(" · ")[0]
                field = d.find_element(By.ID, "label")
                field.send_keys(Keys.CONTROL, "a")
                field.send_keys(truth[name] + Keys.ENTER)
                wait(lambda n=name: not d.find_element(By.ID, "file").text.startswith(n))
            d.find_element(By.ID, "retrain").click()
            wait(lambda: "epoch 2 of" in d.find_element(By.ID, "train-status").text, timeout=300)
            d.find_element(By.ID, "label").send_keys(Keys.END)
            save_small(d.get_screenshot_as_png(), args.out / "label.png")
            server.should_exit = True
            app = create_app(args.model)
            url, server = serve(app)
            d.get(url)
            wait(lambda: len(d.find_elements(By.CSS_SELECTOR, "#decoder option")) > 1)
            d.find_element(By.ID, "file").send_keys(str(folder / "captcha_0030.png"))
            wait(lambda: d.find_element(By.ID, "alignment").text)
            save_small(d.get_screenshot_as_png(), args.out / "serve.png")
            server.should_exit = True
        finally:
            d.quit()
            retrainer.stop()


if __name__ == "__main__":
    main()
