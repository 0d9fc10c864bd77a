"""Which of multicolorcaptcha's fonts a model misreads: its glyph errors on `multicolor`'s 200 validation images,
grouped by the font each glyph was drawn in.

multicolorcaptcha 1.2.0 draws each of a captcha's 4 digits in one of its 44 bundled fonts, chosen at random. This
draws the validation images again in the schemes' venv (`bench/pip_schemes.py`), after the same ``random.seed(i)``,
recording the font of each glyph (the images and labels are the same: the label is checked), then reads the images
with MODEL. A glyph counts as wrong when the reading has another character at its position, or another length.

    python bench/multicolor_fonts.py bench/out/generality/TAG/multicolor-42/model.pt
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
from pathlib import Path

from captcha_ocr import Recognizer
from generality import load_set, split
from pip_schemes import venv_python

# run inside the venv: python - IDX... -> JSON {idx: {"label": ..., "fonts": [one font file stem per glyph]}}
FONTS_SCRIPT = r'''
import json, random, sys
from pathlib import Path
from multicolorcaptcha import CaptchaGenerator

gen = CaptchaGenerator(2)
picked = []
choose = gen.gen_rand_font


def recording(fonts):
    font = choose(fonts)
    picked.append(Path(font).stem)
    return font


gen.gen_rand_font = recording
out = {}
for i in map(int, sys.argv[1:]):
    random.seed(i)  # as bench/pip_schemes.py draws image i
    picked.clear()
    made = gen.gen_captcha_image(difficult_level=2)
    out[i] = {"label": made.characters, "fonts": list(picked)}
json.dump(out, sys.stdout)
'''


def glyph_fonts(indices: list[int]) -> dict[int, dict]:
    """``{image index: {"label", "fonts"}}`` for multicolor's images ``indices``."""
    done = subprocess.run([str(venv_python("multicolor")), "-c", FONTS_SCRIPT, *map(str, indices)],
                          capture_output=True, text=True, check=True)
    return {int(k): v for k, v in json.loads(done.stdout).items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="a model file (or 'general')")
    p.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    a = p.parse_args()
    _, val = split(load_set("multicolor", a.data))
    fonts = glyph_fonts([int(s.path.stem) for s in val])
    readings = Recognizer.load(a.model).predict_files([s.path for s in val])
    errors: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])  # font -> [wrong, glyphs]
    exact = 0
    for sample, result in zip(val, readings):
        text = result.prediction.text if result.prediction else ""
        drawn = fonts[int(sample.path.stem)]
        if drawn["label"] != sample.label:
            raise SystemExit(f"{sample.path}: drawn again it reads {drawn['label']!r}, labelled {sample.label!r}: "
                             "not the images bench/pip_schemes.py drew with this venv")
        exact += text == sample.label
        for k, char in enumerate(sample.label):
            counts = errors[drawn["fonts"][k]]
            counts[0] += len(text) != len(sample.label) or text[k] != char
            counts[1] += 1
    wrong, glyphs = sum(c[0] for c in errors.values()), sum(c[1] for c in errors.values())
    print(f"{a.model}: exact match {exact / len(val):.1%}, glyph errors {wrong} / {glyphs} ({wrong / glyphs:.1%})")
    print("| font | wrong / glyphs | error rate |\n|---|---|---|")
    for font, (bad, count) in sorted(errors.items(), key=lambda kv: (-kv[1][0] / kv[1][1], kv[0])):
        print(f"| {font} | {bad} / {count} | {bad / count:.0%} |")


if __name__ == "__main__":
    main()
