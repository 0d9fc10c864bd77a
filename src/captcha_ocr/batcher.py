"""Micro-batching: one worker thread runs the model over the images of many requests at once.

Model calls are cheaper per image in batches, and a model runs best from one thread; HTTP
requests come one by one, from many. :class:`MicroBatcher` gathers what arrives within a short
window into one call. It knows nothing of HTTP (the server hands it arrays).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

DEFAULT_BATCH_WINDOW_MS = 2.0
DEFAULT_MAX_BATCH = 64


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
    :class:`BatchResult`. The worker takes the first waiting job, then keeps collecting jobs of
    the same image size for up to ``window_ms`` or until ``max_batch`` images, runs one model call (in chunks of
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
            if n + len(job.x) > self.max_batch or job.x.shape[1:] != first.x.shape[1:]:
                return jobs, job, False  # (another input width: the next call's)
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
