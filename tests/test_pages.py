"""The browser pages end to end in headless Chromium (the distribution's chromium and chromedriver,
driven by Selenium): the labelling page by keyboard across a kill -9 of its server, retraining
from the page, and the serve page reading images. `make test` installs the browser (.ci/browser)."""

from __future__ import annotations

import base64
import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import httpx
import pytest

from captcha_ocr import Recognizer
from captcha_ocr.browser import BrowserMissingError, find_chromium, headless_chrome, wait_until
from captcha_ocr.bundle import save_bundle
from captcha_ocr.decode import DECODERS, DecodeOptions, alignment_string
from captcha_ocr.samples import find_samples
from conftest import tiny_bundle, unlabelled_folder

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
DIGITS = "0123456789"


@pytest.fixture(scope="module")
def chrome():
    try:
        find_chromium()
    except BrowserMissingError as exc:
        if os.geteuid() != 0:
            message = (f"\n{'#' * 78}\nBROWSER TESTS SKIPPED: {exc}\n(not root, so `make test` could not install "
                       f"it: sudo apt-get install chromium chromium-driver)\n{'#' * 78}")
            warnings.warn(message, stacklevel=1)
            print(message, file=sys.stderr)
            pytest.skip(message)
        pytest.fail(f"{exc}: `make test` installs it as root (bash .ci/browser)")
    driver = headless_chrome()
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 30, what: str = "the page"):
    try:
        return wait_until(predicate, timeout, what=what)
    except TimeoutError as exc:
        raise AssertionError(str(exc)) from None


class LabelServer:
    """``captcha-ocr label`` in a subprocess, which the test can kill -9."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        exe = shutil.which("captcha-ocr")
        self.cmd = [*([exe] if exe else [sys.executable, "-m", "captcha_ocr"]), "label", *map(str, args),
                    "--port", str(self.port)]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc: subprocess.Popen | None = None

    def start(self) -> LabelServer:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.get(self.url + "api/state", timeout=2).raise_for_status()
                return self
            except httpx.TransportError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.proc.kill()
                    output = self.proc.communicate(timeout=10)[0]
                    raise AssertionError(f"label server did not start: {output}") from None
                time.sleep(0.2)

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)


def labels_csv(root: Path) -> list[list[str]]:
    with open(root / "labels.csv", newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_label_by_keyboard_across_a_kill_9(chrome, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    root = tmp_path / "captchas"
    truth = unlabelled_folder(root, 8, seed=5)
    model = save_bundle(tiny_bundle(seed=2), tmp_path / "model.pt")
    rec = Recognizer.load(model)
    readings = {n: rec.predict(root / n, DecodeOptions(allow=DIGITS))[0] for n in truth}
    order = sorted(truth, key=lambda n: (readings[n].confidence, n))  # least confident first
    server = LabelServer(root, "--model", model, "--alphabet", DIGITS).start()
    d = chrome
    entered: dict[str, str] = {}  # what the user typed, in order; labels.csv must hold exactly this

    def shown() -> str:
        return d.find_element(By.ID, "file").text.split(" · ")[0]

    def field():
        return d.find_element(By.ID, "label")

    def type_label(text: str, key: str = Keys.ENTER) -> None:
        field().send_keys(Keys.CONTROL, "a")
        field().send_keys(text + key)

    def label_as(name: str, text: str) -> None:
        assert shown() == name
        type_label(text)
        wait_for(lambda: shown() != name, what=f"the page to move on from {name}")
        entered[name] = text

    try:
        d.get(server.url)
        wait_for(lambda: shown() == order[0], what="the least confident image")
        # the model's reading is pre-filled, and the small captcha is shown large and pixelated
        assert field().get_attribute("value") == readings[order[0]].text
        img = d.find_element(By.ID, "image")
        wait_for(lambda: d.execute_script("return arguments[0].naturalWidth", img) == 96)
        assert img.size["width"] >= 2 * 96
        assert d.execute_script("return getComputedStyle(arguments[0]).imageRendering", img) == "pixelated"
        assert "0 / 8 labelled" in d.find_element(By.ID, "progress").text

        label_as(order[0], truth[order[0]])
        label_as(order[1], truth[order[1]])
        field().send_keys(Keys.TAB)  # skip
        wait_for(lambda: shown() == order[3], what="the image after the skipped one")
        type_label("12x")  # outside the alphabet: the server's 422 is shown, nothing is saved
        error = wait_for(lambda: d.find_element(By.ID, "error").text, what="the error")
        assert error.startswith("422") and "outside the alphabet" in error and shown() == order[3]
        assert "not in the alphabet: x" in d.find_element(By.ID, "hint").text
        label_as(order[3], truth[order[3]])
        field().send_keys(Keys.SHIFT, Keys.TAB)  # back, to fix the last one
        wait_for(lambda: shown() == order[3] and field().get_attribute("value") == truth[order[3]],
                 what="the previous image with its label")
        type_label("9999")
        entered[order[3]] = "9999"
        wait_for(lambda: shown() == order[4], what="the queue again after the fix")
        label_as(order[4], truth[order[4]])
        assert "4 / 8 labelled" in d.find_element(By.ID, "progress").text
        assert labels_csv(root)[1:] == [[n, t] for n, t in entered.items()]

        server.kill9()  # the page notices; nothing entered is lost
        type_label(truth[order[5]])
        error = wait_for(lambda: d.find_element(By.ID, "error").text, what="the error of a dead server")
        assert "does not answer" in error
        assert labels_csv(root)[1:] == [[n, t] for n, t in entered.items()]

        server.start()  # same folder: it resumes from labels.csv (the skip was in memory only)
        d.refresh()
        wait_for(lambda: shown() == order[2], what="the first unlabelled image after the restart")
        assert "4 / 8 labelled" in d.find_element(By.ID, "progress").text
        label_as(order[2], truth[order[2]])
        label_as(order[5], truth[order[5]])
        field().send_keys(Keys.SHIFT, Keys.TAB)  # the history survives a restart too
        wait_for(lambda: shown() == order[5], what="going back after the restart")
    finally:
        server.stop()
    assert labels_csv(root)[0] == ["file", "label"]
    assert labels_csv(root)[1:] == [[n, t] for n, t in entered.items()]  # every label entered, nothing else
    assert {s.path.name: s.label for s in find_samples(root)} == entered  # what `train` will read


@pytest.mark.slow
def test_retrain_from_the_page(chrome, tmp_path):
    """The button starts a real training subprocess (2 epochs on 10 tiny images: seconds); the page
    shows it running, then its model's readings."""
    from selenium.webdriver.common.by import By

    root = tmp_path / "captchas"
    truth = unlabelled_folder(root, 12, seed=7, size=(64, 24))
    server = LabelServer(root, "--retrain-epochs", "2").start()
    d = chrome
    try:
        for name in sorted(truth)[:10]:
            httpx.post(server.url + "api/label", json={"file": name, "label": truth[name]}).raise_for_status()
        d.get(server.url)
        wait_for(lambda: d.find_element(By.ID, "file").text.startswith("img_0010.png"))
        assert d.find_element(By.ID, "reading-note").text == ""  # no model yet
        d.find_element(By.ID, "retrain").click()
        status = wait_for(lambda: d.find_element(By.ID, "train-status").text, what="training status")
        assert "training on 10 labels" in status and "label-runs/run-001" in status
        wait_for(lambda: d.find_element(By.ID, "model-version").text == "model 1", timeout=240,
                 what="the retrained model")
        assert "retrained on 10 labels" in d.find_element(By.ID, "model").text
        note = wait_for(lambda: d.find_element(By.ID, "reading-note").text, what="the new pre-fill")
        assert note.startswith("model reading, confidence")
        expected = Recognizer.load(root / "label-runs" / "run-001" / "model.pt").predict(root / "img_0010.png")[0]
        assert d.find_element(By.ID, "label").get_attribute("value") == expected.text
    finally:
        server.stop()


# ----------------------------------------------------------------------------- the serve page


@pytest.fixture(scope="module")
def serve_page(tmp_path_factory):
    """``create_app`` under uvicorn in a thread: (base url, recognizer, folder of images)."""
    import uvicorn

    from captcha_ocr.server import create_app

    root = tmp_path_factory.mktemp("serve")
    unlabelled_folder(root / "imgs", 4, seed=8)
    rec = Recognizer(tiny_bundle(seed=3))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(rec, max_pixels=100_000), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, what="uvicorn")
    yield f"http://127.0.0.1:{port}/", rec, root
    server.should_exit = True
    thread.join(timeout=10)


def test_serve_page_reads_an_image(chrome, serve_page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    url, rec, root = serve_page
    d = chrome
    d.get(url)
    wait_for(lambda: [o.text for o in Select(d.find_element(By.ID, "decoder")).options] == list(DECODERS),
             what="the decoders, from the API's description")
    images = sorted((root / "imgs").glob("*.png"))

    def expect(path: Path, options: DecodeOptions | None = None) -> None:
        p = rec.predict(path, options)[0]
        assert p.text, "pick an image the untrained model reads something in"
        aligned = alignment_string(rec.logits(rec.prepare([path])), rec.charset)[0]
        wait_for(lambda: (d.find_element(By.ID, "text").text, d.find_element(By.ID, "confidence").text,
                          d.find_element(By.ID, "alignment").text)
                 == (p.text, f"confidence {100 * p.confidence:.2f}%", aligned), what=f"the reading of {path.name}")
        chars, confidences = ([td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                              for tr in d.find_elements(By.CSS_SELECTOR, "#chars tr"))
        assert chars == list(p.text) and confidences == [f"{100 * q:.1f}%" for q in p.char_confidences]
        assert not d.find_element(By.ID, "error").is_displayed()

    d.find_element(By.ID, "file").send_keys(str(images[0]))  # pick a file
    expect(images[0])
    data = base64.b64encode(images[1].read_bytes()).decode()
    d.execute_script(  # drop a file on the page
        """const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], "dropped.png", {type: "image/png"}));
        document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true}));""",
        data)
    expect(images[1])
    Select(d.find_element(By.ID, "decoder")).select_by_visible_text("constrained")  # the API's options
    length = d.find_element(By.ID, "length")
    length.send_keys("5")
    d.find_element(By.ID, "allow").click()  # leaving the field applies it
    expect(images[1], DecodeOptions("constrained", (5,)))

    bad = root / "not-an-image.png"
    bad.write_bytes(b"\x89PNG but not really")
    d.find_element(By.ID, "file").send_keys(str(bad))
    error = wait_for(lambda: d.find_element(By.ID, "error").text, what="the 400 answer")
    assert error.startswith("400: ") and "not a readable image" in error
    big = root / "big.png"
    from PIL import Image

    Image.new("L", (500, 300), 255).save(big)  # 150,000 pixels, over this server's 100,000
    d.find_element(By.ID, "file").send_keys(str(big))
    wait_for(lambda: d.find_element(By.ID, "error").text.startswith("413: "), what="the 413 answer")
