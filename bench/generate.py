"""Speed of `captcha-ocr generate` (captcha_ocr.synth.generate): images written per second.

    python bench/generate.py --count 3000 --size 200x50 --length 4-6 --workers 1,2

For each worker count: the library as shipped (one ImageCaptcha per worker process, seeded
draws, PNG compress_level 1, 64-image jobs) and, with --baseline, the previous way (a new
ImageCaptcha per image, one job per image). Images go to a temporary folder that is deleted.
Prints a Markdown table with the machine and date; "CPU ms/image" (all processes) does not
depend on what else the machine is running, images/s does.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor


def _baseline_one(args: tuple[int, int, str, tuple[int, int], tuple[int, int], str]) -> str:
    """The generator before this change: a fresh ImageCaptcha (fonts reloaded) for every image."""
    from captcha.image import ImageCaptcha

    seed, i, alphabet, lengths, size, out = args
    random.seed(f"captcha-ocr/{seed}/{i}")
    label = "".join(random.choice(alphabet) for _ in range(random.randint(*lengths)))
    ImageCaptcha(width=size[0], height=size[1]).generate_image(label).save(
        os.path.join(out, f"{i:06d}.png"), compress_level=1)
    return label


def baseline(out: str, count: int, lengths, alphabet: str, size, seed: int, workers: int) -> None:
    jobs = [(seed, i, alphabet, lengths, size, out) for i in range(count)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_baseline_one, jobs, chunksize=max(1, count // (workers * 4))))
    else:
        for job in jobs:
            _baseline_one(job)


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (the worker pools)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--size", default="200x50")
    ap.add_argument("--length", default="4-6")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--repeats", type=int, default=2, help="best of N")
    ap.add_argument("--baseline", action="store_true", help="also time the previous generator")
    a = ap.parse_args()
    import captcha

    from captcha_ocr.decode import parse_lengths
    from captcha_ocr.synth import DEFAULT_ALPHABET, generate, parse_size

    size, lengths = parse_size(a.size), parse_lengths(a.length)
    lengths = (lengths[0], lengths[-1])
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} on {platform.node()}: {os.cpu_count()} CPUs, "
          f"{platform.python_version()}, captcha {getattr(captcha, '__version__', '?')}; "
          f"{a.count} images {size[0]}x{size[1]}, lengths {lengths[0]}-{lengths[1]}, best of {a.repeats}")
    print("| generator | workers | seconds | images/s | CPU ms/image | MB written |")
    print("| --- | --- | --- | --- | --- | --- |")
    variants = [("synth.generate", None)] + ([("baseline (ImageCaptcha per image)", baseline)] if a.baseline else [])
    for name, fn in variants:
        for workers in [int(w) for w in a.workers.split(",")]:
            best, cpu, mb = float("inf"), float("inf"), 0.0
            for _ in range(a.repeats):
                out = tempfile.mkdtemp(prefix="bench-gen-")
                try:
                    t, c = time.perf_counter(), _cpu_seconds()
                    if fn is None:
                        generate(out, a.count, lengths, DEFAULT_ALPHABET, size, seed=0, workers=workers)
                    else:
                        fn(out, a.count, lengths, DEFAULT_ALPHABET, size, 0, workers)
                    best = min(best, time.perf_counter() - t)
                    cpu = min(cpu, _cpu_seconds() - c)
                    mb = sum(e.stat().st_size for e in os.scandir(out)) / 1e6
                finally:
                    shutil.rmtree(out)
            print(f"| {name} | {workers} | {best:.2f} | {a.count / best:.0f} | {1000 * cpu / a.count:.2f} | {mb:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
