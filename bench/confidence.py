"""How well different confidence measures rank held-out errors (issue #3), on the k-fold models.

    python bench/confidence.py --data ../shared/datasets/captcha_images_v2 --runs bench/out/accuracy

For each fold model and its held-out images, greedy decoding, then several scores of the same
reading: the text probability (what `Prediction.confidence` is), the best path's probability,
the lowest character confidence, and scores that cost extra forward passes: the text's
probability averaged / minimised over small shifts of the image (test-time augmentation),
averaged / minimised over dropout samples (MC dropout), and the share of shifted copies that
give the same reading. For each: accuracy of the most confident 90% / 95%, the area under the
accuracy-coverage curve, and where each error ranks (0 = the most confident prediction).
"""

from __future__ import annotations

import numpy as np
import torch

from decoders import coverage_stats, fold_models, fold_parser, print_header

SHIFTS = [(dx, dy) for dx in (-2, 0, 2) for dy in (-2, 0, 2)]  # pixels; (0, 0) is the image itself


def shifted(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Move the content of ``x`` [B, C, H, W] by (dx, dy) pixels, repeating the border."""
    h, w = x.shape[2:]
    pad = (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0))
    xp = torch.nn.functional.pad(x, pad, mode="replicate")
    top, left = max(-dy, 0), max(-dx, 0)
    return xp[:, :, top : top + h, left : left + w].contiguous()


def main() -> None:
    ap = fold_parser(__doc__)
    ap.add_argument("--dropout-samples", type=int, default=10)
    a = ap.parse_args()
    from captcha_ocr.ctc import text_probability
    from captcha_ocr.decode import greedy_decode

    print_header()
    torch.manual_seed(0)
    scores: dict[str, list[float]] = {k: [] for k in (
        "text probability (confidence)", "best-path probability", "lowest character confidence",
        "shifts: mean text probability", "shifts: min text probability", "shifts: same reading (share)",
        "MC dropout: mean text probability", "MC dropout: min text probability")}
    correct: list[bool] = []
    errors: list[str] = []
    tta_errors: list[str] = []  # decoding the shifted copies' averaged probabilities instead
    for _, rec, val in fold_models(a):
        model = rec.backend.model
        x = torch.from_numpy(rec.prepare([s.path for s in val]))
        with torch.no_grad():
            logp = [torch.log_softmax(rec.logits(shifted(x, dx, dy)).float(), -1).numpy() for dx, dy in SHIFTS]
            for m in model.modules():  # dropout on, BatchNorm still in eval mode
                if isinstance(m, torch.nn.Dropout):
                    m.train()
            dropped = [torch.log_softmax(model(x).float(), -1).numpy() for _ in range(a.dropout_samples)]
            model.eval()
        base = logp[SHIFTS.index((0, 0))]
        out = greedy_decode(base, rec.charset)
        texts = np.array([o.text for o in out])
        labels = [rec.charset.encode_one(t) for t in texts]
        p_shift = np.stack([text_probability(lp, labels) for lp in logp])  # [shifts, B]
        p_drop = np.stack([text_probability(lp, labels) for lp in dropped])
        same = np.stack([[o.text for o in greedy_decode(lp, rec.charset)] for lp in logp]) == texts[None]
        ok = texts == np.array([s.label for s in val])
        correct.extend(ok.tolist())
        scores["text probability (confidence)"].extend(o.confidence for o in out)
        scores["best-path probability"].extend(np.exp(base.max(-1).sum(-1)).tolist())
        scores["lowest character confidence"].extend(min(o.char_confidences, default=0.0) for o in out)
        scores["shifts: mean text probability"].extend(p_shift.mean(0).tolist())
        scores["shifts: min text probability"].extend(p_shift.min(0).tolist())
        # ties broken by the text probability, so the share only reorders where it differs
        scores["shifts: same reading (share)"].extend((same.mean(0) + 1e-3 * p_shift.mean(0)).tolist())
        scores["MC dropout: mean text probability"].extend(p_drop.mean(0).tolist())
        scores["MC dropout: min text probability"].extend(p_drop.min(0).tolist())
        errors.extend(f"{s.label}->{t} ({o.confidence:.4f})" for s, t, o, g in zip(val, texts, out, ok) if not g)
        averaged = greedy_decode(np.log(np.exp(np.stack(logp)).mean(0)), rec.charset)
        tta_errors.extend(f"{s.label}->{o.text}" for s, o in zip(val, averaged) if o.text != s.label)
    ok = np.array(correct)
    print(f"\n{len(ok)} held-out images, {int((~ok).sum())} greedy errors: {', '.join(errors)}")
    print(f"decoding the {len(SHIFTS)} shifted copies' averaged probabilities: {len(tta_errors)} errors: "
          f"{', '.join(tta_errors)}")
    print(f"shifts: {SHIFTS}; MC dropout: {a.dropout_samples} samples\n")
    print(f"| score | most confident 90% | 95% | area under accuracy-coverage | rank of each error (of {len(ok)}) |")
    print("| --- | --- | --- | --- | --- |")
    for name, values in scores.items():
        v = np.array(values)
        stats = coverage_stats(v, ok)
        ranks = sorted(int((v > v[i]).sum()) for i in np.where(~ok)[0])
        print(f"| {name} | {stats['acc@90%']:.2%} | {stats['acc@95%']:.2%} | {stats['aurc_acc']:.4f} | {ranks} |")


if __name__ == "__main__":
    main()
