"""Data tools: generate, inspect, preview, run/eval reports, augmentation presets, --init."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from captcha_ocr.augment import AUGMENTATIONS, _occlude, _smear, albumentations_pipeline, augment_batch, check_level
from captcha_ocr.bundle import Bundle, ModelFileError, load_bundle, save_bundle
from captcha_ocr.charset import Charset
from captcha_ocr.cli import main
from captcha_ocr.config import ModelConfig, TrainConfig
from captcha_ocr.finetune import init_weights
from captcha_ocr.images import Preprocess
from captcha_ocr.inspect_data import inspect_dataset
from captcha_ocr.model import CRNN
from captcha_ocr.plots import CURVES_SIZE, PAD, save_curves
from captcha_ocr.preview import preview
from captcha_ocr.recorder import RunRecorder
from captcha_ocr.report import write_report
from captcha_ocr.samples import Sample, find_samples, split_samples
from captcha_ocr.styles import draw_style
from captcha_ocr.synth import generate
from captcha_ocr.system import CTCSystem
from captcha_ocr.training import TrainRequest, train
from conftest import tiny_bundle, write_png


def _noise(rng, size=(200, 50)) -> Image.Image:
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0]), dtype=np.uint8))


def _write_manifest(folder: Path, rows: list[tuple[str, str]]) -> None:
    with open(folder / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([("file", "label"), *rows])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """48 generated digit captchas (80x30) and a 1-epoch model trained on them."""
    root = tmp_path_factory.mktemp("tiny")
    generate(root / "data", 48, lengths=(3, 4), alphabet="0123456789", size=(80, 30), seed=3, workers=1)
    result = train(TrainRequest(data=str(root / "data"), out=str(root / "run"), epochs=1, progress=False),
                   print_fn=lambda *a: None)
    return root / "data", result


# ----------------------------------------------------------------------------- generate


def _digests(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_generation_is_deterministic_for_a_seed_and_its_manifest_matches(tmp_path):
    kw = dict(lengths=(4, 6), alphabet="abcxyz", size=(72, 28))
    a = generate(tmp_path / "a", 70, seed=5, workers=1, **kw)
    generate(tmp_path / "b", 70, seed=5, workers=2, **kw)  # two chunks: the process pool path
    generate(tmp_path / "c", 70, seed=6, workers=1, **kw)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    assert _digests(tmp_path / "a") != _digests(tmp_path / "c")

    rows = list(csv.reader(open(tmp_path / "a" / "labels.csv", encoding="utf-8")))
    assert rows[0] == ["file", "label"]
    files = sorted(p.name for p in (tmp_path / "a").glob("*.png"))
    assert [r[0] for r in rows[1:]] == files == [f"{i:06d}.png" for i in range(70)]
    assert [r[1] for r in rows[1:]] == [s.label for s in a]
    assert all(4 <= len(s.label) <= 6 and set(s.label) <= set("abcxyz") for s in a)
    assert [(s.path, s.label) for s in find_samples(tmp_path / "a")] == [(s.path, s.label) for s in a]
    assert Image.open(a[0].path).size == (72, 28)


def test_generate_cli_and_its_user_errors(tmp_path, capsys):
    out = tmp_path / "gen"
    assert main(["generate", str(out), "--count", "5", "--length", "3-4", "--size", "90x30", "--seed", "1",
                 "--no-progress"]) == 0
    assert "wrote 5 captchas" in capsys.readouterr().out
    assert main(["generate", str(out), "--count", "5", "--no-progress"]) == 2  # would overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert main(["generate", str(tmp_path / "x"), "--size", "90by30", "--no-progress"]) == 2
    assert "captcha-ocr: error: bad size" in capsys.readouterr().err
    scraped = tmp_path / "scraped"
    write_png(scraped / "000000.png")  # a user's own image, named as a generated one would be
    assert main(["generate", str(scraped), "--count", "5", "--no-progress"]) == 2
    assert "already holds images or labels (000000.png)" in capsys.readouterr().err
    assert sorted(p.name for p in scraped.iterdir()) == ["000000.png"]
    for alphabet in ("ab c", "e\u0301"):  # read back as other labels: a space is stripped, an accent joins
        assert main(["generate", str(tmp_path / "odd"), "--alphabet", alphabet, "--no-progress"]) == 2
        assert "characters a label cannot hold on its own" in capsys.readouterr().err
    assert main(["generate", str(tmp_path / "odd"), "--alphabet", "aaaab", "--no-progress"]) == 2
    assert "['a'] given more than once" in capsys.readouterr().err  # 'a' drawn 4 times as often, unsaid


def test_generate_cli_with_a_style(tmp_path, capsys):
    out = tmp_path / "tiny"
    assert main(["generate", str(out), "--count", "20", "--style", "tiny", "--seed", "3", "--workers", "1",
                 "--no-progress"]) == 0
    assert "wrote 20 captchas (style tiny, 80x25" in capsys.readouterr().out
    rows = list(csv.reader(open(out / "labels.csv", encoding="utf-8")))
    assert rows[0] == ["file", "label"] and len(rows) == 21
    assert [r[0] for r in rows[1:]] == [f"{i:06d}.png" for i in range(20)]
    assert all(len(label) == 5 and label.isdigit() for _, label in rows[1:])
    assert [r[1] for r in rows[1:]] == [draw_style("tiny", 3, i)[0] for i in range(20)]
    assert {Image.open(out / name).size for name, _ in rows[1:]} == {(80, 25)}
    # the style fixes size, lengths and alphabet: those options are refused, not ignored
    assert main(["generate", str(tmp_path / "x"), "--style", "tiny", "--size", "90x30", "--no-progress"]) == 2
    assert "--style tiny fixes" in capsys.readouterr().err and not (tmp_path / "x").exists()
    with pytest.raises(SystemExit):  # argparse: not a style
        main(["generate", str(tmp_path / "y"), "--style", "nope"])
    assert "outline" in capsys.readouterr().err


# ----------------------------------------------------------------------------- inspect


def test_inspect_finds_each_planted_problem(tmp_path, capsys):
    rng = np.random.default_rng(0)
    names = [f"{i:03d}.png" for i in range(40)]
    labels = ["".join(rng.choice(list("abcdef"), 5)) for _ in names]
    _, val = split_samples([Sample(tmp_path / n, "") for n in names], 0.1, 42)  # the split inspect makes
    val_names = {s.path.name for s in val}
    train_idx = [i for i, n in enumerate(names) if n not in val_names]
    labels[names.index(sorted(val_names)[0])] = "qabcd"  # 'q' only in the validation split
    dup_a, dup_b, rare, upper, lower, narrow = train_idx[:6]
    labels[rare] = "abzde"  # 'z' seen once
    labels[upper], labels[lower] = "ABCDE", "abcde"  # the same label but for case; 5 upper-case letters in 200
    labels[narrow] = "abcab"  # 5 frames needed; 20 pixels wide gives 2
    for i, name in enumerate(names):
        _noise(rng, (20, 50) if i == narrow else (200, 50)).save(tmp_path / name)
    shutil.copy(tmp_path / names[dup_a], tmp_path / names[dup_b])  # identical pixels
    (tmp_path / "zz_broken.png").write_bytes(b"\x89PNG not really")
    _write_manifest(tmp_path, [*zip(names, labels), ("zz_broken.png", "abcde")])

    r = inspect_dataset(tmp_path)
    assert r.samples == 41 and r.readable == 40
    assert [Path(f).name for f, _ in r.unreadable] == ["zz_broken.png"]
    assert [sorted(Path(p).name for p in g) for g in r.duplicates] == [sorted([names[dup_a], names[dup_b]])]
    assert r.val_only_chars == ["q"]
    # the general model's height, and the 32 frames a fine-tune gets at least: 200x50 -> 256x48
    assert r.model_input == (48, 256) and r.time_steps == 32
    assert [Path(d["file"]).name for d in r.too_narrow] == [names[narrow]]
    assert r.length_histogram == {5: 40}
    text = "\n".join(r.warnings)
    assert "'z' (1)" in text and "under 10 times" in text
    assert "differ from another only in case: ABCDE / abcde" in text
    assert "upper-case letter(s)" in text
    assert "only in the validation split" in text and "too narrow" in text and "unreadable" in text

    assert main(["inspect", str(tmp_path), "--json", "--no-progress"]) == 0
    js = json.loads(capsys.readouterr().out)
    assert js["val_only_chars"] == ["q"] and js["unreadable"][0]["file"].endswith("zz_broken.png")
    assert js["char_counts"]["z"] == 1 and js["alphabet"].startswith("ABCDE")


def test_inspect_names_files_cut_short_and_files_the_manifest_lists_twice(tmp_path, capsys):
    import io

    from captcha_ocr.inspect_data import is_truncated

    rng = np.random.default_rng(5)
    rows = []
    for i, fmt in enumerate(["PNG", "JPEG", "GIF", "PNG", "JPEG", "GIF"]):
        buf = io.BytesIO()
        _noise(rng, (120, 40)).save(buf, fmt)
        data = buf.getvalue()
        cut = i >= 3  # the last three lose their second half, as a download cut short would
        name = f"{i}.{fmt.lower()}"
        (tmp_path / name).write_bytes(data[: len(data) // 2] if cut else data)
        assert is_truncated(tmp_path / name) == cut, name
        rows.append((name, f"ab{i}"))
    rows.append(("0.png", "xy0"))  # the same file again, with another label
    _write_manifest(tmp_path, rows)
    r = inspect_dataset(tmp_path)
    assert sorted(Path(f).name for f in r.truncated) == ["3.png", "4.jpeg", "5.gif"]
    assert r.listed_twice == [{"file": str(tmp_path / "0.png"), "labels": ["ab0", "xy0"]}]
    assert not r.duplicates  # a file listed twice is not two identical images
    text = "\n".join(r.warnings)
    assert "3 file(s) cut short" in text and "3.png" in text
    assert ("1 file(s) listed more than once in the manifest (training uses each once, or skips it when its "
            "labels differ): 0.png ('ab0', 'xy0')") in text
    # split as train splits: 0.png, listed with two labels, is in neither part
    assert (r.train_images, r.val_images) == (4, 1)
    assert main(["inspect", str(tmp_path), "--json", "--no-progress"]) == 0
    js = json.loads(capsys.readouterr().out)
    assert len(js["truncated"]) == 3 and js["listed_twice"][0]["labels"] == ["ab0", "xy0"]


def test_an_image_too_small_to_be_a_captcha_is_named_by_inspect_and_skipped_by_training(tmp_path):
    """A 1x1 or 40x9 file upscaled to the model's rows carries no glyph: inspect names it and training
    skips it with the reason, as it does an unreadable file; 10 px on a side is kept."""
    from captcha_ocr.config import get_preset
    from captcha_ocr.dataset import prepare_data

    rows = [(f"{i}.png", f"{i:02d}") for i in range(10)]
    sizes = {"0.png": (1, 1), "1.png": (40, 9), "2.png": (10, 10)}
    for name, _ in rows:
        write_png(tmp_path / name, size=sizes.get(name, (64, 24)))
    _write_manifest(tmp_path, rows)

    r = inspect_dataset(tmp_path)
    assert sorted(Path(f).name for f in r.too_small) == ["0.png", "1.png"]
    assert ("2 image(s) under 10 px on a side, too small to be a captcha (training skips them): 0.png (1x1), "
            "1.png (40x9)") in r.warnings
    assert r.train_images + r.val_images == 8  # split as training splits: without the two

    data = prepare_data(str(tmp_path), get_preset("default"), progress=False, print_fn=lambda _: None)
    assert sorted(data.train.labels + data.val.labels) == [f"{i:02d}" for i in range(2, 10)]
    assert sorted((p.name, why) for p, why in data.skipped) == [
        ("0.png", "1x1 pixels: too small to be a captcha (under 10 px on a side)"),
        ("1.png", "40x9 pixels: too small to be a captcha (under 10 px on a side)")]


def test_inspect_is_quiet_on_a_clean_folder(tmp_path):
    rng = np.random.default_rng(1)
    rows = [(f"{i}.png", "".join(rng.choice(list("ab"), 4))) for i in range(30)]
    for name, _ in rows:
        _noise(rng).save(tmp_path / name)
    _write_manifest(tmp_path, rows)
    r = inspect_dataset(tmp_path)
    assert r.readable == 30 and not r.duplicates and not r.unreadable
    assert r.warnings == []


def test_inspect_and_preview_show_the_input_a_default_run_gets(tmp_path):
    # 90x30 images: the default starts from the general model, so they get its 48 px height and at
    # least 32 frames (256 px), not the 32x96 (then 16 frames: 128 px) that a run from scratch would get
    rng = np.random.default_rng(4)
    for label in ["ab12", "ba34", "cd56", "dc78", "ef90", "fe12"]:
        _noise(rng, (90, 30)).save(tmp_path / f"{label}.png")
    assert inspect_dataset(tmp_path).model_input == (48, 256)
    assert preview(tmp_path, tmp_path / "out" / "grid.png", count=4).model_input == (48, 256)


# ----------------------------------------------------------------------------- preview and reports


@pytest.mark.parametrize("augment", ["none", "light", "albu-strong"])
def test_preview_png_has_the_stated_size(tmp_path, augment):
    if augment.startswith("albu-"):
        pytest.importorskip("albumentations")
    rng = np.random.default_rng(2)
    for label in ["abc12", "xyz34", "qwe56", "rty78", "uio90", "pas12", "dfg34"]:
        _noise(rng).save(tmp_path / f"{label}.png")
    r = preview(tmp_path, tmp_path / "out" / "grid.png", augment=augment, count=6, cols=3)
    im = Image.open(r.path)
    assert im.size == r.size and r.path.stat().st_size > 1000
    assert r.images == 6 and r.model_input == (48, 256)
    assert im.width == 3 * (256 + PAD) + PAD  # the model's 256-pixel width (cells under 200 px would be doubled)
    rows_of_images = 2 if augment != "none" else 1
    assert im.height > 2 * rows_of_images * 48


def test_report_files_and_cap(tmp_path):
    img = np.full((1, 48, 200), 200, np.uint8)
    paths = write_report(tmp_path / "r", ["abc", "abd", "xy", "ok"], ["abc", "abe", "x", "ok"], [0.9, 0.5, 0.2, 1.0],
                         lambda i: img)
    assert [p.name for p in paths] == ["errors.png", "confusions.csv", "suspect_labels.csv"]
    rows = list(csv.reader(open(paths[1], encoding="utf-8")))
    assert rows == [["label", "read", "count", "kind"], ["d", "e", "1", "char"], ["xy", "x", "1", "text"]]
    # only the sure disagreement (abc read right at 0.9 and ok at 1.0 are right; abd at 0.5 is unsure)
    assert list(csv.reader(open(paths[2], encoding="utf-8"))) == [["file", "label", "read", "confidence"]]
    sure = write_report(tmp_path / "s", ["ab", "cd", "ef", "gh"], ["ab", "cb", "ex", "gh"], [0.2, 0.99, 0.97, 1.0],
                        lambda i: img, ["1.png", "2.png", "3.png", "4.png"])[2]
    assert list(csv.reader(open(sure, encoding="utf-8")))[1:] == [["2.png", "cd", "cb", "0.9900"],
                                                                  ["3.png", "ef", "ex", "0.9700"]]
    assert Image.open(paths[0]).size[0] == 2 * (200 + PAD) + PAD  # two mistakes, side by side

    many = [f"a{i}" for i in range(70)]
    capped = write_report(tmp_path / "cap", many, ["b"] * 70, [0.1] * 70, lambda i: img)[0]
    exact = write_report(tmp_path / "exact", many[:64], ["b"] * 64, [0.1] * 64, lambda i: img)[0]
    assert Image.open(capped).size == Image.open(exact).size  # 64 shown of 70

    none = write_report(tmp_path / "none", ["a"], ["a"], [1.0], lambda i: img)[0]
    assert none.stat().st_size > 0


def test_eval_lists_the_labels_a_sure_model_disagrees_with(tmp_path, monkeypatch, capsys):
    from captcha_ocr.evaluation import EvalResult
    from captcha_ocr.recognizer import Prediction, Recognizer

    rng = np.random.default_rng(0)
    for name in ("1234", "5678", "9012", "3456"):
        _noise(rng).save(tmp_path / f"{name}.png")
    readings = {"1234": Prediction("1234", 0.99), "5678": Prediction("5670", 0.98),  # sure and disagrees
                "9012": Prediction("9013", 0.40), "3456": Prediction("3455", 0.999)}  # unsure; surest of all
    fake = lambda rec, samples, *a, **k: EvalResult(samples, [readings[s.label] for s in samples])  # noqa: E731
    monkeypatch.setattr("captcha_ocr.evaluation.evaluate", fake)
    monkeypatch.setattr(Recognizer, "load", staticmethod(lambda *a, **k: None))
    result = fake(None, find_samples(tmp_path))
    assert [(s.label, p.text) for s, p in result.suspect_labels()] == [("3456", "3455"), ("5678", "5670")]

    assert main(["eval", "general", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "likely wrong labels: 2 image(s)" in out
    listed = out.split("likely wrong labels")[1]
    assert "3456.png" in listed and "5678.png" in listed and "9012.png" not in listed
    assert main(["eval", "general", str(tmp_path), "--no-progress", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [Path(f).name for f in report["suspect_labels"]] == ["3456.png", "5678.png"]


def test_curves_png_size_and_missing_matplotlib(tmp_path, monkeypatch):
    rows = [dict(epoch=e, train_loss=2 / e, val_loss=2.5 / e, val_accuracy=e / 5, val_cer=0.5 / e, lr=1e-3 / e)
            for e in range(1, 6)]
    path = save_curves(rows, tmp_path / "curves.png")
    assert Image.open(path).size == CURVES_SIZE

    printed: list[str] = []
    (tmp_path / "run").mkdir()
    rec = RunRecorder(tmp_path / "run", None, has_val=True, print_fn=printed.append)
    rec.rows = rows
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # importing it now raises ImportError
    rec._draw_curves()
    assert len(printed) == 1 and "matplotlib is not installed" in printed[0]
    assert rec.curves_path is None  # so later epochs neither try again nor warn again
    assert not (tmp_path / "run" / "curves.png").exists()


def test_training_writes_the_run_report_and_eval_report(tiny_run, tmp_path, capsys):
    data, result = tiny_run
    run = result.model_path.parent
    assert Image.open(run / "curves.png").size == CURVES_SIZE
    assert (run / "errors.png").stat().st_size > 0
    assert next(csv.reader(open(run / "confusions.csv"))) == ["label", "read", "count", "kind"]
    assert next(csv.reader(open(run / "suspect_labels.csv"))) == ["file", "label", "read", "confidence"]

    assert main(["eval", str(result.model_path), str(data), "--report", str(tmp_path / "ev"), "--no-progress"]) == 0
    assert (tmp_path / "ev" / "errors.png").stat().st_size > 0 and (tmp_path / "ev" / "confusions.csv").exists()
    assert "report:" in capsys.readouterr().err
    # into the data folder itself, its errors.png would be read as a captcha by the next run on it
    assert main(["eval", str(result.model_path), str(data), "--report", str(data), "--no-progress"]) != 0
    assert "--report" in capsys.readouterr().err and not (data / "errors.png").exists()


# ----------------------------------------------------------------------------- augmentation


@pytest.mark.parametrize("level", ["none", "light", "strong", "smear", "occlude"])
def test_batch_augmentation_keeps_shape_and_dtype(level):
    x = torch.randn(4, 1, 48, 200)
    y = augment_batch(x, level, generator=torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert (y is x) == (level == "none")


@pytest.mark.parametrize("level", ["albu-light", "albu-strong"])
@pytest.mark.parametrize("channels", [1, 3])
def test_albumentations_presets_keep_shape_and_dtype(level, channels):
    pytest.importorskip("albumentations")
    img = np.random.default_rng(0).integers(0, 255, (48, 200, channels), dtype=np.uint8)
    out = albumentations_pipeline(level, seed=0)(img)
    assert out.shape == img.shape and out.dtype == np.uint8 and not np.array_equal(out, img)


def test_unknown_augmentation_is_refused():
    assert set(AUGMENTATIONS) == {"none", "light", "strong", "smear", "occlude", "albu-light", "albu-strong"}
    with pytest.raises(ValueError, match="unknown augmentation"):
        check_level("heavy")
    with pytest.raises(ValueError, match="per-image"):
        augment_batch(torch.zeros(1, 1, 8, 8), "albu-light")


def test_smear_only_darkens_with_a_shifted_copy_of_the_strokes():
    x = torch.ones(8, 1, 20, 40)  # light ground (normalised +1) ...
    x[:, :, 4:16, 18:20] = -1.0  # ... with one dark vertical stroke
    identity = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(8, 2, 3)
    out = _smear(x, identity, x.clone(), prob=1.0, px=3.0, generator=torch.Generator().manual_seed(0))
    assert (out <= x).all()  # nothing lighter: the ghost is the minimum of the two
    added = (out < 0) & (x > 0)
    assert added.any(dim=(1, 2, 3)).all()  # every image got ghost pixels ...
    cols = added.any(dim=2).squeeze(1).nonzero()[:, 1]
    assert cols.min() >= 15 and cols.max() <= 22  # ... next to the stroke, within 3 px
    assert (_smear(x, identity, x.clone(), 0.0, 3.0, None) == x).all()  # prob 0: unchanged


def test_occluders_draw_small_marks_in_the_images_own_colour_range():
    x = torch.ones(64, 3, 48, 160)  # light ground ...
    x[:, :, 12:36, 20:140] = -0.5  # ... with a grey text block
    out = _occlude(x.clone(), prob=1.0, count=3, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert out.min() >= -0.5 - 1e-6 and out.max() <= 1.0 + 1e-6  # colours between the image's own extremes
    changed = (out - x).abs().amax(dim=1) > 1e-3  # [B, H, W]
    per_image = changed.sum(dim=(1, 2))
    assert (per_image > 0).float().mean() > 0.8  # nearly every image got a mark (each of 3 is there at 0.6) ...
    longest = 0.6 * 160 + 2 * 2.5 + 2  # ... and each mark is a short stroke or a small blot, never a block
    assert per_image.max() <= 3 * longest * 6
    assert (_occlude(x.clone(), 0.0, 3, None) == x).all()  # prob 0: unchanged
    blank = torch.full((4, 1, 48, 160), 0.3)
    assert torch.allclose(_occlude(blank.clone(), 1.0, 3, torch.Generator().manual_seed(1)), blank)  # stays blank


@pytest.mark.parametrize("level", ["light", "albu-light"])
def test_augmentation_is_off_at_validation(level):
    pre = Preprocess(32, 64)
    system = CTCSystem(ModelConfig(num_classes=4, height=32, width=64), Charset("abc"), pre,
                       TrainConfig(augment=level))
    images = torch.randint(0, 255, (3, 1, 32, 64), dtype=torch.uint8)
    batch = (images, torch.ones(3, 2, dtype=torch.long), torch.full((3,), 2), torch.arange(3))
    plain = pre.normalize(images)
    system.eval()
    assert torch.equal(system.on_after_batch_transfer(batch, 0)[0], plain)
    system.train()
    x = system.on_after_batch_transfer(batch, 0)[0]
    assert x.shape == plain.shape and x.dtype == torch.float32
    assert torch.equal(x, plain) == (level == "albu-light")  # albu-* runs in the training dataset instead


# ----------------------------------------------------------------------------- --init


def _bundle(charset: str, **config) -> Bundle:
    cfg = ModelConfig(num_classes=len(charset) + 1, height=32, width=64, **config)
    model = CRNN(cfg)
    return Bundle(cfg, Charset(charset), Preprocess(32, 64), {k: v.clone() for k, v in model.state_dict().items()})


def test_init_weights_same_charset_copies_everything():
    src = _bundle("abc")
    model = CRNN(src.config)
    assert "all weights" in init_weights(model, Charset("abc"), src)
    for k, v in model.state_dict().items():
        assert torch.equal(v, src.state_dict[k]), k


def test_init_weights_maps_classifier_rows_by_character():
    src = _bundle("abc")
    model = CRNN(ModelConfig(num_classes=4, height=32, width=64))
    fresh = model.state_dict()["head.1.weight"].clone()
    msg = init_weights(model, Charset("abd"), src)
    assert "2 of 3 characters" in msg and "'d'" in msg
    got, want = model.state_dict(), src.state_dict
    for k in got:
        if not k.startswith("head.1."):
            assert torch.equal(got[k], want[k]), k
    for key in ("head.1.weight", "head.1.bias"):
        assert torch.equal(got[key][:3], want[key][:3])  # blank, a, b
    assert torch.equal(got["head.1.weight"][3], fresh[3])  # d: new, keeps its initialisation

    with pytest.raises(ModelFileError, match="architecture differs"):
        init_weights(CRNN(ModelConfig(num_classes=4, height=32, width=64, proj_dim=64)), Charset("abc"), src)


def test_train_with_init_starts_from_the_models_weights(tiny_run, tmp_path):
    data, first = tiny_run
    printed: list[str] = []
    # a learning rate so small that one epoch leaves the weights where --init put them
    request = TrainRequest(data=str(data), out=str(tmp_path / "ft"), epochs=1, lr=1e-12, init=str(first.model_path),
                           progress=False, report=False)
    second = train(request, print_fn=printed.append)
    assert any(line.startswith("initialised from") and "all weights" in line for line in printed)
    a, b = load_bundle(first.model_path), load_bundle(second.model_path)
    assert b.provenance["init"] == str(first.model_path)
    assert (b.preprocess.height, b.preprocess.width) == (a.preprocess.height, a.preprocess.width)
    for k, v in a.state_dict.items():
        if "running_" not in k and "num_batches" not in k:  # BatchNorm statistics move without the optimiser
            assert torch.allclose(v.float(), b.state_dict[k].float(), atol=1e-6), k
    assert not (tmp_path / "ft" / "curves.png").exists()  # report=False


def test_preview_draws_the_rows_at_the_zoom_train_would_choose(tmp_path, capsys):
    from captcha_ocr.styles import draw_style
    from captcha_ocr.zooms import zoom_rows

    # tiny captchas drawn small in a tall image: the general model reads them best zoomed in (as in
    # tests/test_zooms.py), so a default run trains zoomed, and preview shows that
    for i in range(30):
        label, image = draw_style("tiny", 3, i)
        zoom_rows(image.convert("RGB"), 0.45).save(tmp_path / f"{i:02d}.png")
    (tmp_path / "labels.csv").write_text("file,label\n" + "".join(
        f"{i:02d}.png,{draw_style('tiny', 3, i)[0]}\n" for i in range(30)), encoding="utf-8")
    chosen = preview(tmp_path, tmp_path / "out" / "grid.png", count=4)
    assert chosen.zoom > 1 and "chosen by general as train would" in chosen.zoom_note
    given = preview(tmp_path, tmp_path / "out" / "grid1.png", count=4, zoom=1.0)
    assert given.zoom == 1.0 and given.zoom_note == "--zoom"
    assert not np.array_equal(np.asarray(Image.open(chosen.path)), np.asarray(Image.open(given.path)))
    scratch = preview(tmp_path, tmp_path / "out" / "grid2.png", count=4, preset="seed")  # random weights
    assert scratch.zoom == 1.0 and "random weights" in scratch.zoom_note
    with pytest.raises(ValueError, match="positive"):
        preview(tmp_path, tmp_path / "out" / "grid3.png", zoom=0)
    assert main(["preview", str(tmp_path), "--out", str(tmp_path / "out" / "cli.png"), "--zoom", "1.25"]) == 0
    assert "rows zoomed 1.25x (--zoom)" in capsys.readouterr().out
    # as train --init: from random weights no zoom; from a trained model its own zoom and input height
    none = preview(tmp_path, tmp_path / "out" / "grid4.png", count=4, init="none")
    assert none.zoom == 1.0 and "random weights" in none.zoom_note
    bundle = tiny_bundle(height=32, width=96)
    bundle.preprocess = replace(bundle.preprocess, zoom=1.3)
    save_bundle(bundle, tmp_path / "out" / "mine.pt")
    mine = preview(tmp_path, tmp_path / "out" / "grid5.png", count=4, init=str(tmp_path / "out" / "mine.pt"))
    assert mine.zoom == 1.3 and "own zoom" in mine.zoom_note and mine.model_input[0] == 32
    assert main(["preview", str(tmp_path), "--out", str(tmp_path / "out" / "cli2.png"), "--init", "none",
                 "--case", "upper", "--label-order", "drawn"]) == 0
    assert "rows zoomed 1x (random weights: no zoom)" in capsys.readouterr().out


def test_one_labelled_image_is_too_few_to_train_and_the_error_says_what_to_do(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    Image.new("L", (64, 24), 255).save(tmp_path / "data" / "ab1.png")
    assert main(["train", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--init", "none",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "no training images left after the validation split (1 readable image(s)" in err
    assert "label more images" in err and "--val-dir" in err
    assert not (tmp_path / "run" / "model.pt").exists()


def test_generate_refuses_characters_its_font_cannot_draw(tmp_path):
    """CJK characters were all drawn as the font's one empty box: an unlearnable dataset, without a word."""
    with pytest.raises(ValueError, match="no glyph for \\['字', '漢'\\]"):
        generate(tmp_path / "cjk", 2, alphabet="漢字ab")
    assert not (tmp_path / "cjk").exists()


def test_preview_refuses_to_write_into_the_data_folder_and_zero_columns(tmp_path):
    from captcha_ocr.preview import preview

    for label in ("ab12", "cd34", "ef56"):  # labelled by file name: a preview.png beside them is one more
        write_png(tmp_path / f"{label}.png", size=(100, 40))
    with pytest.raises(ValueError, match="would be read as a captcha labelled 'preview'"):
        preview(tmp_path, tmp_path / "preview.png")
    with pytest.raises(ValueError, match="--cols: at least 1, got 0"):
        preview(tmp_path, tmp_path.parent / "p.png", cols=0)
