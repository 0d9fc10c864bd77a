"""The default on hard generated styles, 1-minute budget, 540 generated images, 60 held out.

- ``tiny``: 80x25 captchas (5 digits), which it upsamples so CTC gets enough frames (the scheme
  the issue found at 91.5% with the old fixed size).
- ``outline``: hollow glyphs under a thick strike line, and ``pale``: pale colours on white,
  4-8 of 62 characters. From random weights the default read 0% and 1.5% of these even with
  800 images and 5 minutes (bench/RESULTS.md, generality); starting from the general model, as
  the default now does, it leaves the all-blank plateau within the minute.

Measured on the 2-core VM, 2026-11-25 (MEASURED: 60/60 tiny after 26 epochs, 59/60 outline after
18, 38/60 pale after 16). The bars leave room for slower CPUs (the budget then fits fewer
epochs); a model stuck on the all-blank plateau scores 0.
"""

import pytest

from captcha_ocr.styles import generate_style
from captcha_ocr.training import TrainRequest, train

pytestmark = pytest.mark.slow

# style -> (accuracy measured, the bar this test asserts)
MEASURED = {"tiny": (1.0, 0.85), "outline": (0.983, 0.8), "pale": (0.633, 0.35)}


@pytest.mark.parametrize("style", sorted(MEASURED))
def test_default_learns_hard_styles_in_a_minute(tmp_path, style):
    samples = generate_style(tmp_path / style, style, 600, seed=3)
    printed: list[str] = []
    result = train(TrainRequest(data=samples[:540], val_samples=samples[540:], out=str(tmp_path / "run"),
                                max_minutes=1.0, progress=False, report=False),
                   print_fn=lambda *a: printed.append(" ".join(map(str, a))))
    log = "\n".join(printed)
    if style == "tiny":
        assert "input size: upsampled" in log
    assert "initialised from general" in log
    assert result.best_val_accuracy >= MEASURED[style][1], log
    assert not result.warnings
