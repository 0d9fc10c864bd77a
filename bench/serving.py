"""Serving speed: PyTorch vs ONNX Runtime, in process and over HTTP.

    python bench/serving.py --data ../shared/datasets/captcha_images_v2 \
        --model runs/default/model.pt --seed-model runs/seed/model.pt --mode offline
    python bench/serving.py --data ../shared/datasets/captcha_images_v2 \
        --model runs/default/model.pt --mode http --clients 64 --requests 20000

Each ``.pt`` model is exported to ONNX (next to --out) first. ``offline`` mode, per model and
backend, with every PNG of the data set read into memory beforehand (no disk I/O timed):
batch throughput (PNG bytes -> text: decoding, preprocessing, model, CTC decoding with the default
decoder; batch 64), greedy and default decoding alone on the same logits,
model-only throughput, single-image latency p50/p99 (one PNG in memory -> text), and ONNX vs
torch agreement over the whole data set (max |logit difference|, identical decoded texts).

``http`` mode starts ``captcha-ocr serve`` in a subprocess on 127.0.0.1 for each backend, and
``--clients`` asyncio clients (one process, the same machine; pre-encoded requests on raw
keep-alive connections by default, or httpx with ``--client httpx``) send ``--requests``
multipart ``POST /predict`` requests of one image each, cycling through the data set:
req/s, latency p50/p99, failures, answers that differ from the in-process prediction, and
the server's RSS at start and after each quarter of the run (``/proc/PID/status``). The clients share the CPU with the
server, so on a small machine req/s is a floor, not the server's ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def machine_line() -> str:
    import onnxruntime
    import torch

    return (f"# {time.strftime('%Y-%m-%d %H:%M %Z')} on {platform.node()}: {os.cpu_count()} CPUs, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__}, "
            f"load average {os.getloadavg()[0]:.2f}")


def load_data(folder: str) -> list[bytes]:
    """Every image file of the data set, read into memory (sorted by path)."""
    from captcha_ocr.samples import find_samples

    return [s.path.read_bytes() for s in find_samples(folder)]


def ensure_onnx(model: Path, out_dir: Path, any_width: bool = False) -> Path:
    """The model's ONNX export (re-exported when older than the .pt); ``any_width``: with a free
    width axis (``export --any-width``)."""
    from captcha_ocr.export import export_onnx

    target = out_dir / f"{model.parent.name}_{model.stem}{'_anywidth' if any_width else ''}.onnx"
    if not target.exists() or target.stat().st_mtime < model.stat().st_mtime:
        report = export_onnx(model, target, any_width=any_width or None)
        print(f"exported {model} -> {target} (max |diff| {report.max_abs_diff:.1e} on random inputs)")
    return target


# ----------------------------------------------------------------------------- offline


def offline(name: str, model: Path, onnx_path: Path, blobs: list[bytes], latency_n: int,
            repeat: int = 3) -> list[dict]:
    from captcha_ocr import Recognizer

    recs = {"torch": Recognizer.load(model), "onnx": Recognizer.load(onnx_path)}
    x = recs["torch"].prepare(blobs)
    logits, texts, rows = {}, {}, []
    for backend, rec in recs.items():
        rec.predict(blobs[:64])  # warm-up
        batch_s = model_s = float("inf")
        for _ in range(repeat):  # best of `repeat` passes: the machine may be shared
            t = time.perf_counter()
            preds = rec.predict(blobs, batch_size=64)
            batch_s = min(batch_s, time.perf_counter() - t)
            t = time.perf_counter()
            logits[backend] = np.concatenate([np.asarray(rec.logits(x[i : i + 64])) for i in range(0, len(x), 64)])
            model_s = min(model_s, time.perf_counter() - t)
        lat = []
        for blob in blobs[:latency_n]:
            t = time.perf_counter()
            rec.predict(blob)
            lat.append((time.perf_counter() - t) * 1000)
        texts[backend] = [p.text for p in preds]
        rows.append({
            "model": name, "backend": backend, "images": len(blobs),
            "batch_img_s": len(blobs) / batch_s, "model_img_s": len(x) / model_s,
            "lat_p50_ms": pct(lat, 50), "lat_p99_ms": pct(lat, 99), "latency_images": len(lat),
        })
    diff = float(np.abs(logits["onnx"] - logits["torch"]).max())
    same = sum(a == b for a, b in zip(texts["torch"], texts["onnx"]))
    decode_s = decode_speed(recs["onnx"], logits["onnx"], repeat)
    for row in rows:
        row.update(max_abs_logit_diff=diff, same_text=same, **decode_s)
    return rows


def decode_speed(rec, logits: np.ndarray, repeat: int) -> dict:
    """Sequences per second of greedy and of the default decoder (within the training lengths) on
    the same logits ``[N, T, K]``, side by side (best of ``repeat``)."""
    from captcha_ocr.decode import DecodeOptions

    out = {}
    for name, options in (("greedy", DecodeOptions("greedy")), ("default", None)):
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            rec.decode_logits(logits, options)
            best = min(best, time.perf_counter() - t)
        out[f"decode_{name}_seq_s"] = len(logits) / best
    return out


def print_offline(rows: list[dict]) -> None:
    print("\n| model | backend | batch 64, PNG -> text (img/s) | model only (img/s) | 1 image p50 (ms) "
          "| 1 image p99 (ms) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['model']} | {r['backend']} | {r['batch_img_s']:,.0f} | {r['model_img_s']:,.0f} | "
              f"{r['lat_p50_ms']:.2f} | {r['lat_p99_ms']:.2f} |")
    print("\n| model | images | max \\|ONNX - torch\\| logit | identical texts |")
    print("| --- | --- | --- | --- |")
    for r in rows[::2]:
        print(f"| {r['model']} | {r['images']} | {r['max_abs_logit_diff']:.2e} | {r['same_text']}/{r['images']} |")
    print("\n| model | decoding only, greedy (seq/s) | decoding only, default: within the training lengths (seq/s) |")
    print("| --- | --- | --- |")
    for r in rows[::2]:
        print(f"| {r['model']} | {r['decode_greedy_seq_s']:,.0f} | {r['decode_default_seq_s']:,.0f} |")


# ----------------------------------------------------------------------------- http


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> dict[str, float]:
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (``/proc/PID/stat``)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(model: Path, backend: str, extra: list[str]) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    exe = shutil.which("captcha-ocr")
    cmd = [exe] if exe else [sys.executable, "-m", "captcha_ocr"]
    proc = subprocess.Popen([*cmd, "serve", str(model), "--backend", backend, "--host", "127.0.0.1",
                             "--port", str(port), "--no-access-log", "--log-level", "warning", *extra])
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server for {model} did not start")
        time.sleep(0.2)


BOUNDARY = "captcha-ocr-bench-boundary"


def multipart_request(host: str, name: str, blob: bytes) -> bytes:
    """A complete HTTP/1.1 ``POST /predict`` with one multipart ``file`` (keep-alive)."""
    body = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: image/png\r\n\r\n").encode() + blob + f"\r\n--{BOUNDARY}--\r\n".encode()
    head = (f"POST /predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return head + body


class RawConnection:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams: cheap, so the server gets the CPU."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, data: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        try:
            self.writer.write(data)
            await self.writer.drain()
            status = int((await self.reader.readline()).split()[1])
            length, close = 0, False
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                key, _, value = line.decode("latin-1").partition(":")
                if key.lower() == "content-length":
                    length = int(value)
                elif key.lower() == "connection" and value.strip().lower() == "close":
                    close = True
            body = await self.reader.readexactly(length)
        except BaseException:
            await self.close()
            raise
        if close:
            await self.close()
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def load(base: str, blobs: list[bytes], expected: list[str], clients: int, total: int,
               max_seconds: float, kind: str = "raw") -> dict:
    """``clients`` concurrent clients send ``total`` one-image requests; latencies and failures."""
    import httpx

    host, port = base.removeprefix("http://").split(":")
    requests = [multipart_request(f"{host}:{port}", f"{k}.png", b) for k, b in enumerate(blobs)]
    latencies: list[float] = []
    failures: dict[str, int] = {}
    wrong = sent = 0
    deadline = time.perf_counter() + max_seconds

    async def send(k: int, conn, http) -> tuple[int, bytes]:
        if kind == "raw":
            return await asyncio.wait_for(conn.request(requests[k]), 30)
        r = await http.post(f"{base}/predict", files={"file": (f"{k}.png", blobs[k], "image/png")})
        return r.status_code, r.content

    async def client(http) -> None:
        nonlocal wrong, sent
        conn = RawConnection(host, int(port))
        while sent < total and time.perf_counter() < deadline:
            k = sent % len(blobs)
            sent += 1
            t = time.perf_counter()
            try:
                status, body = await send(k, conn, http)
                text = json.loads(body)["predictions"][0]["text"] if status == 200 else None
                why = None if status == 200 else f"HTTP {status}"
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, httpx.HTTPError, ValueError,
                    KeyError, IndexError) as exc:
                text, why = None, type(exc).__name__
            latencies.append((time.perf_counter() - t) * 1000)
            if why:
                failures[why] = failures.get(why, 0) + 1
            elif text != expected[k]:
                wrong += 1
        await conn.close()

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        t = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        wall = time.perf_counter() - t
    return {"requests": len(latencies), "seconds": wall, "req_s": len(latencies) / wall,
            "p50_ms": pct(latencies, 50), "p99_ms": pct(latencies, 99), "failures": sum(failures.values()),
            "failure_kinds": failures, "wrong": wrong, "latencies": latencies}


def http_bench(name: str, model: Path, onnx_path: Path, blobs: list[bytes], a: argparse.Namespace) -> list[dict]:
    from captcha_ocr import Recognizer

    rows = []
    for backend, path in (("torch", model), ("onnx", onnx_path)):
        if backend not in a.backends.split(","):
            continue
        expected = [p.text for p in Recognizer.load(path).predict(blobs)]
        extra = ["--batch-window-ms", str(a.batch_window_ms), *a.server_args.split()]
        proc, base = start_server(path, backend, extra)
        try:
            start = rss_mb(proc.pid)
            asyncio.run(load(base, blobs, expected, a.clients, 2 * a.clients, 30, a.client))  # warm-up
            cpu = cpu_seconds(proc.pid)
            # the run in four equal parts, the server's RSS read after each (memory must stay flat)
            parts, rss_after = [], []
            for _ in range(4):
                parts.append(asyncio.run(load(base, blobs, expected, a.clients, a.requests // 4,
                                              a.max_seconds / 4, a.client)))
                rss_after.append(rss_mb(proc.pid)["VmRSS"])
            lat = [x for p in parts for x in p["latencies"]]
            result = {"requests": len(lat), "seconds": sum(p["seconds"] for p in parts),
                      "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
                      "failures": sum(p["failures"] for p in parts), "wrong": sum(p["wrong"] for p in parts),
                      "failure_kinds": {k: sum(p["failure_kinds"].get(k, 0) for p in parts)
                                        for k in {k for p in parts for k in p["failure_kinds"]}},
                      "rss_quarters_mb": rss_after}
            result["req_s"] = result["requests"] / result["seconds"]
            result["server_cpu_ms_per_req"] = (cpu_seconds(proc.pid) - cpu) * 1000 / max(1, result["requests"])
            end = rss_mb(proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        rows.append({"model": name, "backend": backend, "clients": a.clients, "client": a.client, **result,
                     "rss_start_mb": start["VmRSS"], "rss_end_mb": end["VmRSS"], "rss_peak_mb": end["VmHWM"]})
    return rows


def print_http(rows: list[dict]) -> None:
    print("\n| model | backend | clients | requests | req/s | p50 (ms) | p99 (ms) | failures | wrong answers "
          "| server CPU ms/req | RSS at start; after each quarter of the run (MB) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['model']} | {r['backend']} | {r['clients']} | {r['requests']:,} | {r['req_s']:,.0f} | "
              f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['failures']} | {r['wrong']} | "
              f"{r['server_cpu_ms_per_req']:.1f} | "
              f"{r['rss_start_mb']:.0f}; {', '.join(f'{m:.0f}' for m in r['rss_quarters_mb'])} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", required=True, help="default-preset model file (.pt)")
    ap.add_argument("--seed-model", help="seed-preset model file (.pt)")
    ap.add_argument("--mode", default="offline", choices=["offline", "http", "all"])
    ap.add_argument("--out", default="bench/out/serving", help="where the ONNX exports and the log go")
    ap.add_argument("--latency-images", type=int, default=300, help="images timed one by one (offline)")
    ap.add_argument("--repeat", type=int, default=3, help="offline throughput: best of this many passes")
    ap.add_argument("--any-width", action="store_true", help="export with a free width axis (export --any-width)")
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--client", default="raw", choices=["raw", "httpx"],
                    help="raw: pre-encoded requests on asyncio streams (light); httpx: httpx.AsyncClient")
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--max-seconds", type=float, default=120, help="stop an HTTP run after this long")
    ap.add_argument("--batch-window-ms", type=float, default=2.0)
    ap.add_argument("--http-models", default="default", help="comma list of default,seed for the HTTP mode")
    ap.add_argument("--backends", default="torch,onnx", help="comma list of torch,onnx for the HTTP mode")
    ap.add_argument("--server-args", default="", help="extra `captcha-ocr serve` options, e.g. '--threads 1'")
    a = ap.parse_args()

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    print(machine_line())
    print(f"# {' '.join(sys.argv)}")
    blobs = load_data(a.data)
    models = {"default": Path(a.model)} | ({"seed": Path(a.seed_model)} if a.seed_model else {})
    exports = {name: ensure_onnx(path, out, a.any_width) for name, path in models.items()}
    log = out / "serving.jsonl"
    if a.mode in ("offline", "all"):
        rows = []
        for name, path in models.items():
            rows += offline(name, path, exports[name], blobs, a.latency_images, a.repeat)
        print_offline(rows)
        with open(log, "a") as fh:
            for r in rows:
                fh.write(json.dumps({"mode": "offline", "when": time.time(), **r}) + "\n")
    if a.mode in ("http", "all"):
        rows = []
        for name in a.http_models.split(","):
            if name in models:
                rows += http_bench(name, models[name], exports[name], blobs, a)
        print_http(rows)
        with open(log, "a") as fh:
            for r in rows:
                fh.write(json.dumps({"mode": "http", "when": time.time(), **r}) + "\n")
    print(f"\n# load average at the end: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
