"""Captcha schemes from six published Python captcha packages, drawn at their defaults: sets no one here
has tuned on, and the kind a site built on one of these packages shows.

- `django_simple` (django-simple-captcha 0.7.0): about 83x29, 4 upper-case letters, rotated, arcs and
  dots (its Vera font).
- `wheezy` (wheezy.captcha 3.2.2): 200x75, 4 of 32 (no 0/O, 1/I), warped, a curve and noise (the
  recipe of its docs, in Liberation Mono Bold).
- `multicolor` (multicolorcaptcha 1.2.0): 640x360 (a 640x160 band inside a black frame), 4 digits in 44 fonts,
  coloured, lines and circles.
- `gvcode` (gvcode 1.0.3): 200x80, 5 of 62 (mixed case), coloured letters and lines (its bundled Arial).
- `kaptcha` (kaptcha 1.0.1, added in session 50): 200x80 JPEG, 4 of 55 (mixed case, no i/l/j/q/I/Q/0), each
  glyph in a random colour and one of its four bundled fonts, 20 coloured blots, bars and thick lines drawn
  over them (`Captcha().letter_digit()`). It draws boxes of negative height, which Pillow refuses since 9.5,
  so it has a venv of its own with Pillow 9.4.0 (`bench/.pip-schemes-venv-kaptcha`).
- `flask_simple` (flask-simple-captcha 5.5.5, added in session 50): 180x60 JPEG, 6 of 24 upper-case letters
  (no I/O), white on black in its bundled Roboto Mono, white lines and rings (`CAPTCHA(config).create()`).

The packages live in their own venv (`bench/.pip-schemes-venv`, made the first time; `django-simple-captcha`
installs a top-level package named `captcha`, as the `captcha` package our tests use does). `wheezy` needs
Liberation Mono Bold (`apt-get install fonts-liberation`). Each image ``i`` is drawn after
``random.seed(i)`` (with ``PYTHONHASHSEED=0``, since flask-simple-captcha draws from a set), so a set is the
same on every machine with the same packages. A JPEG is written as ``NNNN.jpg`` (the bytes the package
serves), anything else as ``NNNN.png``.

    python bench/pip_schemes.py                 # write all six under bench/out/pip_schemes/ (1,000 each)
    python bench/generality.py --sets django_simple,wheezy,multicolor,gvcode --tag s31-pip
"""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

OUT = Path(__file__).parent / "out" / "pip_schemes"
VENV = Path(__file__).parent / ".pip-schemes-venv"
PACKAGES = ("django-simple-captcha==0.7.0", "Django==5.2.19", "wheezy.captcha==3.2.2", "multicolorcaptcha==1.2.0",
            "gvcode==1.0.3", "flask-simple-captcha==5.5.5", "pillow")
# schemes whose package needs other versions than PACKAGES: a venv of their own (bench/.pip-schemes-venv-NAME)
OWN_PACKAGES = {"kaptcha": ("kaptcha==1.0.1", "pillow==9.4.0")}
SCHEMES = ("django_simple", "wheezy", "multicolor", "gvcode", "kaptcha", "flask_simple")
WHEEZY_FONT = Path("/usr/share/fonts/truetype/liberation/LiberationMono-Bold.ttf")

# run inside the venv: python - OUT COUNT NAME FONT [FIRST] (writes OUT/NNNN.png or .jpg and OUT/labels.csv; image
# i is drawn after random.seed(i), i from FIRST)
DRAW_SCRIPT = r'''
import csv, io, random, sys
from pathlib import Path

out, count, name, font = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
first = int(sys.argv[5]) if len(sys.argv) > 5 else 0


def django_simple():
    import django
    from django.conf import settings
    settings.configure(INSTALLED_APPS=["captcha"], USE_TZ=True)
    django.setup()
    from types import SimpleNamespace
    from captcha.helpers import random_char_challenge
    from captcha.views import _captcha_image

    def draw():
        challenge, _ = random_char_challenge()  # the image shows the challenge (the answer is its lower case)
        return _captcha_image(SimpleNamespace(challenge=challenge), 1).content, challenge
    return draw


def wheezy():
    from wheezy.captcha.image import background, captcha, curve, noise, offset, rotate, smooth, text, warp
    make = captcha(drawings=[background(), text(fonts=[font], drawings=[warp(), rotate(), offset()]),
                             curve(), noise(), smooth()])
    chars = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

    def draw():
        label = "".join(random.sample(chars, 4))
        buf = io.BytesIO()
        make(label).save(buf, "PNG")
        return buf.getvalue(), label
    return draw


def multicolor():
    from multicolorcaptcha import CaptchaGenerator
    gen = CaptchaGenerator(2)

    def draw():
        made = gen.gen_captcha_image(difficult_level=2)
        buf = io.BytesIO()
        made.image.save(buf, "PNG")
        return buf.getvalue(), made.characters
    return draw


def gvcode():
    from gvcode import VFCode

    def draw():
        code = VFCode()
        code.generate_mix()
        return code.get_img_bytes(), code.code
    return draw


def kaptcha():
    import base64
    from kaptcha import Captcha
    make = Captcha()

    def draw():
        label, uri = make.letter_digit()  # ("Ab3x", "data:image/jpeg;base64,...")
        return base64.b64decode(uri.split(",", 1)[1]), label
    return draw


def flask_simple():
    import base64
    from flask_simple_captcha import CAPTCHA
    make = CAPTCHA(config={"SECRET_CAPTCHA_KEY": "bench-" * 8})

    def draw():
        made = make.create()
        return base64.b64decode(made["img"]), made["text"]
    return draw


draw = globals()[name]()
out.mkdir(parents=True, exist_ok=True)
rows = []
for i in range(first, first + count):
    random.seed(i)
    data, label = draw()
    file = f"{i:04d}.jpg" if data[:2] == b"\xff\xd8" else f"{i:04d}.png"
    (out / file).write_bytes(data)
    rows.append((file, label))
with open(out / "labels.csv.part", "w", newline="") as fh:
    writer = csv.writer(fh)
    writer.writerow(["file", "label"])
    writer.writerows(rows)
(out / "labels.csv.part").replace(out / "labels.csv")
'''


def venv_python(name: str) -> Path:
    """The python of scheme ``name``'s venv (:data:`VENV`, or its own for :data:`OWN_PACKAGES`), creating the
    venv the first time and installing its packages whenever they differ from those it was last given
    (``installed.txt``)."""
    venv = VENV.with_name(f"{VENV.name}-{name}") if name in OWN_PACKAGES else VENV
    packages = OWN_PACKAGES.get(name, PACKAGES)
    python = venv / "bin" / "python"
    stamp = venv / "installed.txt"
    if not python.is_file():
        print(f"creating {venv} ...", flush=True)
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    if not stamp.is_file() or stamp.read_text() != "\n".join(packages):
        print(f"installing {', '.join(packages)} into {venv} ...", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
        stamp.write_text("\n".join(packages))
    return python


def scheme_folder(name: str, count: int = 1000, first: int = 0) -> Path:
    """The folder of scheme ``name``'s ``count`` images (``labels.csv`` manifest), drawn the first time.
    ``first`` > 0: a separate folder (``NAME-from-FIRST``) of images drawn after ``random.seed(i)`` for ``i``
    from ``first`` on, after other seeds than the first ``first`` images (more labels for ``generality.py
    --extra``). SystemExit when the folder was drawn earlier with fewer than ``count`` images."""
    if name not in SCHEMES:
        raise SystemExit(f"unknown scheme {name!r}: one of {', '.join(SCHEMES)}")
    folder = OUT / (f"{name}-from-{first}" if first else name)
    manifest = folder / "labels.csv"
    if manifest.is_file():
        with open(manifest) as fh:
            held = sum(1 for _ in fh) - 1  # the header
        if held < count:
            raise SystemExit(f"{folder} holds {held} images, fewer than the {count} asked for: remove it to draw "
                             "them again")
    else:
        if name == "wheezy" and not WHEEZY_FONT.is_file():
            raise SystemExit(f"{WHEEZY_FONT} is missing: apt-get install fonts-liberation")
        print(f"drawing {count} {name} captchas into {folder} ...", flush=True)
        subprocess.run([str(venv_python(name)), "-c", DRAW_SCRIPT, str(folder), str(count), name, str(WHEEZY_FONT),
                        str(first)], check=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    return folder


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--schemes", default=",".join(SCHEMES))
    p.add_argument("--count", type=int, default=1000)
    a = p.parse_args()
    for name in a.schemes.split(","):
        print(scheme_folder(name, a.count))


if __name__ == "__main__":
    main()
