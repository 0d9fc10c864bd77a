"""An Arabic captcha scheme: joined letters, drawn right to left as a page shows them (session 51).

`captcha_ocr.styles` draws a label one glyph at a time, which for Arabic gives the letters' isolated
forms. A site's Arabic captcha is text laid out by a shaping engine: each letter in the form its
neighbours call for, joined to them, the word right to left. This draws that with Pillow's text
layout (libraqm, which needs FriBiDi: `apt-get install libfribidi0` where Pillow says it has no raqm)
in DejaVu Sans (regular and bold, shipped with matplotlib): 200x64, 4-6 of the 28 Arabic letters, the
word turned by up to 6 degrees, dark text on a light background, 1-3 lines and dots in the text's
colour. Labels are typed (logical) order, as a site's answer is. Image ``i`` is drawn with
``random.Random(seed * 1_000_003 + i)``.

    python bench/joined_script.py                      # write bench/out/scripts/arabic/ (1,000 images)
    python bench/generality.py --sets arabic --tag s51-rtl
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

OUT = Path(__file__).parent / "out" / "scripts"
# the 28 letters of the Arabic alphabet (not teh marbuta, alef maksura, tatweel, or the later additions)
ARABIC = "".join(chr(c) for c in range(0x0627, 0x064B) if not 0x063B <= c <= 0x0640 and c not in (0x0629, 0x0649))
SCHEMES = ("arabic",)
SIZE = (200, 64)


def _fonts() -> list[str]:
    import matplotlib

    folder = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"
    return [str(folder / name) for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")]


def draw(rng: random.Random, label: str):
    """One captcha of ``label`` (typed order): an RGB PIL image, the word laid out right to left."""
    from PIL import Image, ImageDraw, ImageFont

    w, h = SIZE
    back = tuple(rng.randint(200, 255) for _ in range(3))
    ink = tuple(rng.randint(0, 100) for _ in range(3))
    font = ImageFont.truetype(rng.choice(_fonts()), rng.randint(26, 34))
    layer = Image.new("L", (w * 2, h * 2), 0)
    ImageDraw.Draw(layer).text((w // 2, h // 2), label, font=font, fill=255, direction="rtl", language="ar")
    layer = layer.rotate(rng.uniform(-6, 6), resample=Image.BILINEAR)
    box = layer.getbbox() or (0, 0, 1, 1)
    layer = layer.crop(box)
    if layer.width > w - 8 or layer.height > h - 4:
        scale = min((w - 8) / layer.width, (h - 4) / layer.height)
        layer = layer.resize((max(1, int(layer.width * scale)), max(1, int(layer.height * scale))), Image.BILINEAR)
    image = Image.new("RGB", (w, h), back)
    x = rng.randint(4, max(4, w - 4 - layer.width))
    y = rng.randint(2, max(2, h - 2 - layer.height))
    image.paste(Image.new("RGB", layer.size, ink), (x, y), layer)
    d = ImageDraw.Draw(image)
    for _ in range(rng.randint(1, 3)):
        d.line([(rng.randint(0, w), rng.randint(0, h)), (rng.randint(0, w), rng.randint(0, h))], fill=ink,
               width=rng.randint(1, 2))
    for _ in range(rng.randint(60, 200)):
        d.point((rng.randint(0, w - 1), rng.randint(0, h - 1)), fill=ink)
    return image


def scheme_folder(name: str, count: int = 1000, seed: int = 0) -> Path:
    """The folder of ``count`` images of scheme ``name`` with its ``labels.csv``, drawn the first time
    (a folder from another count or seed is drawn again); SystemExit when Pillow cannot lay out Arabic."""
    from PIL import features

    if name not in SCHEMES:
        raise SystemExit(f"unknown scheme {name!r}: one of {', '.join(SCHEMES)}")
    folder = OUT / (name if seed == 0 else f"{name}-seed{seed}")
    stamp = folder / "labels.csv"
    if stamp.is_file() and sum(1 for _ in stamp.open(encoding="utf-8")) == count + 1:
        return folder
    if not features.check("raqm"):
        raise SystemExit("the arabic scheme needs Pillow's text layout with libraqm, which needs FriBiDi "
                         "(apt-get install libfribidi0)")
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        rng = random.Random(seed * 1_000_003 + i)
        label = "".join(rng.choice(ARABIC) for _ in range(rng.randint(4, 6)))
        draw(rng, label).save(folder / f"{i:04d}.png")
        rows.append((f"{i:04d}.png", label))
    tmp = stamp.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "label"])
        writer.writerows(rows)
    tmp.replace(stamp)  # written last: a folder without it is drawn again
    return folder


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=1000, help="images to draw of the (one) scheme, arabic")
    print(scheme_folder("arabic", p.parse_args().count))


if __name__ == "__main__":
    main()
