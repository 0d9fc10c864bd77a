"""Decoders side by side on the k-fold models that bench/accuracy.py trained.

    python bench/decoders.py --data ../shared/datasets/captcha_images_v2 --runs bench/out/accuracy

For each fold: the model's forward time on its held-out images, then each decoder's accuracy
and throughput on the same logits; and how well greedy confidence ranks predictions
(accuracy of the most confident 90% / 95%, area under the accuracy-coverage curve), beside
the best-path probability that earlier versions reported as confidence.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch


def coverage_stats(confidences: np.ndarray, correct: np.ndarray) -> dict:
    """Accuracy of the most confident 90% / 95%, and the area under accuracy vs coverage."""
    order = np.argsort(-confidences, kind="stable")
    hits = correct[order].astype(np.float64)
    acc_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)  # accuracy of the top-k, k = 1..n
    def top(frac: float) -> float:
        return float(acc_at[max(1, int(np.floor(frac * len(hits)))) - 1])
    return {"acc@90%": top(0.90), "acc@95%": top(0.95), "aurc_acc": float(acc_at.mean())}


def fold_parser(doc: str) -> argparse.ArgumentParser:
    """Options shared by the scripts that read the k-fold models of bench/accuracy.py."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--runs", default="bench/out/accuracy")
    ap.add_argument("--preset", default="default")
    ap.add_argument("--folds", type=int, default=5)
    return ap


def print_header() -> None:
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} on {platform.node()}: {os.cpu_count()} CPUs, torch {torch.__version__}")


def fold_models(a: argparse.Namespace):
    """Yield ``(fold, Recognizer, held-out samples)`` for each fold model."""
    from captcha_ocr import Recognizer
    from captcha_ocr.samples import find_samples, kfold_samples

    for k, (_, val) in enumerate(kfold_samples(find_samples(a.data), a.folds, 42)):
        yield k, Recognizer.load(os.path.join(a.runs, f"{a.preset}_f{k}_s42", "model.pt")), val


def main() -> None:
    ap = fold_parser(__doc__)
    ap.add_argument("--beam-width", type=int, default=10)
    a = ap.parse_args()
    from captcha_ocr.beam import beam_decode
    from captcha_ocr.decode import DecodeOptions, decode

    print_header()
    decoders = ["greedy", "beam", "beam-python", "constrained"]
    totals = {d: 0 for d in decoders}
    times = {d: 0.0 for d in decoders + ["forward"]}
    n_total = 0
    all_conf, all_ok, all_path, all_minchar, wrong = [], [], [], [], []
    print("| fold | images | " + " | ".join(f"{d} acc" for d in decoders) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in decoders) + " |")
    for k, rec, val in fold_models(a):
        x = rec.prepare([s.path for s in val])
        rec.logits(x[:8])  # warm-up
        t = time.perf_counter()
        logits = torch.cat([rec.logits(x[i : i + 64]) for i in range(0, len(x), 64)])
        times["forward"] += time.perf_counter() - t
        labels = [s.label for s in val]
        accs = []
        for d in decoders:
            t = time.perf_counter()
            if d == "beam-python":  # the built-in search, without fast-ctc-decode
                out = beam_decode(logits, rec.charset, a.beam_width, impl="python")
            else:
                out = decode(logits, rec.charset, DecodeOptions(d, rec.bundle.lengths, beam_width=a.beam_width))
            times[d] += time.perf_counter() - t
            ok = np.array([o.text == y for o, y in zip(out, labels)])
            totals[d] += int((~ok).sum())
            accs.append(ok.mean())
            if d == "greedy":
                all_conf.extend(o.confidence for o in out)
                all_ok.extend(ok.tolist())
                # the earlier definition, for comparison: the best path's probability
                all_path.extend(torch.log_softmax(logits.float(), -1).max(-1).values.sum(-1).exp().tolist())
                all_minchar.extend(min(o.char_confidences, default=0.0) for o in out)
                wrong.extend(f"{y}->{o.text} ({o.confidence:.3f})" for o, y in zip(out, labels) if o.text != y)
        n_total += len(val)
        print(f"| {k} | {len(val)} | " + " | ".join(f"{x:.2%}" for x in accs) + " |")
    print(f"\nerrors over all {n_total} held-out images: " + ", ".join(f"{d} {totals[d]}" for d in decoders))
    fwd = times["forward"]
    print(f"\nforward pass: {n_total / fwd:,.0f} images/s (batch 64, {torch.get_num_threads()} threads)")
    for d in decoders:
        print(f"{d:>12}: {n_total / times[d]:,.0f} sequences/s = {times[d] / fwd:.1%} of the forward time")
    print(f"\ngreedy errors (confidence): {', '.join(wrong)}")
    for name, conf in (("text probability (confidence)", all_conf), ("best-path probability", all_path),
                       ("lowest character confidence", all_minchar)):
        stats = coverage_stats(np.array(conf), np.array(all_ok))
        print(f"\ngreedy, {name}: most confident 90% at {stats['acc@90%']:.2%} accuracy, 95% at "
              f"{stats['acc@95%']:.2%}; mean accuracy over all coverages {stats['aurc_acc']:.4f}")


if __name__ == "__main__":
    main()
