"""A scripted browser labels a folder on the labelling page, across real kill -9s of its server.

    python bench/label_session.py                       # 100 images, a model trained here first (5 min)
    python bench/label_session.py --model runs/mine/model.pt --count 200 --kills 4

Draws ``--count`` captchas (the ``captcha`` package, 160x60, 4-5 of 0-9a-z) into a folder with
unlabelled names, trains a pre-fill model on 1,500 others (``--train-minutes``; or ``--model``),
starts ``captcha-ocr label DIR --model M`` in a subprocess and drives headless Chromium
(:mod:`captcha_ocr.browser`) through the page by keyboard: for each image, Enter when the
pre-fill is right, else the true label typed over it and Enter. ``--kills`` times along the way
the server is killed with SIGKILL: alternately between two labels and right after an Enter
(the save in flight, unconfirmed); then restarted, the page reloaded, and the session goes on.

Reported: server time per label (the server's own ``Server-Timing`` of every request the page
made, read from the browser's Resource Timing: the save, the image fetches, state, the page
itself after each reload, summed and divided by the labels), the save request alone (p50, p95,
max), the wall time from Enter to the next image on screen (Selenium included), the restarts,
and the labels lost: labels the page confirmed (it moved on) that ``labels.csv`` does not hold
after each kill and at the end, plus rows it holds that were never entered. Target (issue
#13): under 1 s of server time per label, 0 labels lost.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).parent / "out" / "label_session"
ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def make_data(folder: Path, count: int, seed: int) -> dict[str, str]:
    """``count`` captchas named ``scraped_0000.png`` ..., no labels; returns the true labels."""
    from captcha_ocr.synth import generate, hide_labels

    generate(folder, count, lengths=(4, 5), alphabet=ALPHABET, seed=seed)
    return hide_labels(folder, prefix="scraped_")


def train_model(out: Path, minutes: float) -> Path:
    from captcha_ocr.synth import generate
    from captcha_ocr.training import TrainRequest, train

    generate(out / "train", 1500, lengths=(4, 5), alphabet=ALPHABET, seed=1)
    result = train(TrainRequest(data=str(out / "train"), out=str(out / "run"), max_minutes=minutes, progress=False),
                   print_fn=lambda *a: None)
    print(f"pre-fill model: {result.model_path} (validation accuracy {result.best_val_accuracy:.1%}, "
          f"{result.seconds:.0f} s)")
    return result.model_path


class Server:
    def __init__(self, folder: Path, model: Path, port: int) -> None:
        self.cmd = [sys.executable, "-m", "captcha_ocr", "label", str(folder), "--model", str(model),
                    "--alphabet", ALPHABET, "--port", str(port)]
        self.url = f"http://127.0.0.1:{port}/"
        self.proc: subprocess.Popen | None = None
        self.log = open(folder.parent / "server.log", "a")  # closed in stop()

    def start(self) -> float:
        import httpx

        t = time.perf_counter()
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT)
        while True:
            try:
                httpx.get(self.url + "api/state", timeout=2).raise_for_status()
                return time.perf_counter() - t
            except httpx.TransportError:
                if self.proc.poll() is not None:
                    raise SystemExit(f"the label server exited; see {self.log.name}") from None
                time.sleep(0.1)

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def on_disk(folder: Path) -> dict[str, str]:
    path = folder / "labels.csv"
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return {f: label for f, label in rows[1:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--model", type=Path, help="pre-fill model (default: train one here)")
    ap.add_argument("--train-minutes", type=float, default=5.0)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from captcha_ocr.browser import headless_chrome, wait_until

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    folder = out / f"data-{time.strftime('%Y%m%d-%H%M%S')}"
    truth = make_data(folder, args.count, args.seed)
    model = args.model or train_model(out / "model", args.train_minutes)
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')} on {platform.node()}: {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}; {args.count} images in {folder}, model {model}")

    server = Server(folder, model, free_port())
    starts = [server.start()]
    d = headless_chrome()
    kill_at = {round(args.count * (k + 1) / (args.kills + 1)): ("idle" if k % 2 == 0 else "in flight")
               for k in range(args.kills)}
    confirmed: dict[str, str] = {}
    walls, prefill_right, lost, extra, unconfirmed_saved = [], 0, [], [], 0
    server_ms: list[float] = []  # every request's Server-Timing
    save_ms: list[float] = []  # the POST /api/label requests' alone

    def shown() -> str:
        return d.find_element(By.ID, "file").text.split(" · ")[0]

    def wait(pred, timeout=60.0):
        try:
            wait_until(pred, timeout, interval=0.005)
        except TimeoutError as exc:
            raise SystemExit(str(exc)) from None

    def collect() -> None:
        entries = d.execute_script(
            "const e = performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'));"
            "performance.clearResourceTimings();"
            "return e.map(x => [x.name, x.initiatorType, (x.serverTiming || []).map(s => s.duration)]);")
        for name, _kind, durations in entries:
            server_ms.extend(durations)
            if name.endswith("/api/label"):
                save_ms.extend(durations)

    def open_page() -> None:
        d.get(server.url)
        d.execute_script("performance.setResourceTimingBufferSize(100000)")
        wait(lambda: shown() or d.find_element(By.ID, "done").is_displayed())

    def check_disk(when: str) -> None:
        disk = on_disk(folder)
        missing = [f for f in confirmed if disk.get(f) != confirmed[f]]
        lost.extend(f"{when}: {f}" for f in missing)

    open_page()
    try:
        while len(confirmed) < args.count:
            name = shown()
            field = d.find_element(By.ID, "label")
            label = truth[name]
            kill = kill_at.pop(len(confirmed), None)
            if kill == "idle":
                collect()
                server.kill9()
                check_disk("after kill -9 between labels")
                starts.append(server.start())
                open_page()
                continue
            t = time.perf_counter()
            if field.get_attribute("value") == label:
                prefill_right += 1
                field.send_keys(Keys.ENTER)
            else:
                field.send_keys(Keys.CONTROL, "a")
                field.send_keys(label + Keys.ENTER)
            if kill == "in flight":
                collect()
                server.kill9()  # the save may or may not have landed; the page has not confirmed it
                check_disk("after kill -9 with a save in flight")
                if on_disk(folder).get(name) == label:
                    unconfirmed_saved += 1
                    confirmed[name] = label
                starts.append(server.start())
                open_page()
                continue
            wait(lambda n=name: shown() != n or d.find_element(By.ID, "done").is_displayed())
            walls.append((time.perf_counter() - t) * 1000)
            confirmed[name] = label
        collect()
    finally:
        d.quit()
        server.stop()
    check_disk("at the end")
    disk = on_disk(folder)
    extra = [f for f in disk if f not in confirmed]
    labels = len(confirmed)
    summary = {
        "images": args.count, "labels": labels, "kills": args.kills, "prefill_right": prefill_right,
        "server_ms_per_label": sum(server_ms) / labels, "server_requests": len(server_ms),
        "save_ms_p50": pct(save_ms, 50), "save_ms_p95": pct(save_ms, 95), "save_ms_max": max(save_ms),
        "enter_to_next_ms_p50": pct(walls, 50), "enter_to_next_ms_p95": pct(walls, 95),
        "enter_to_next_ms_max": max(walls),
        "server_start_s": [round(s, 1) for s in starts], "in_flight_saves_that_landed": unconfirmed_saved,
        "labels_lost": len(lost), "lost": lost, "rows_never_entered": len(extra),
        "labels_csv_matches_truth": disk == truth,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    print("\n| labels | kill -9s | server time per label (mean) | save request p50 / p95 / max | Enter -> next image "
          "p50 / p95 | labels lost | rows never entered |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {labels} | {args.kills} | {summary['server_ms_per_label']:.1f} ms | {summary['save_ms_p50']:.1f} / "
          f"{summary['save_ms_p95']:.1f} / {summary['save_ms_max']:.1f} ms | {summary['enter_to_next_ms_p50']:.0f} / "
          f"{summary['enter_to_next_ms_p95']:.0f} ms | {len(lost)} | {len(extra)} |")
    ok = summary["server_ms_per_label"] < 1000 and summary["save_ms_max"] < 1000 and not lost and not extra
    print(f"target (under 1 s of server time per label, 0 lost): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
