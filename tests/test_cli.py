"""The command line, run through its installed entry point."""

import json
import shutil

import pytest

from captcha_ocr import Recognizer
from captcha_ocr.samples import find_samples, split_samples
from conftest import run_cli

pytestmark = pytest.mark.slow


cli = run_cli


def test_predict_json_over_files_and_folders(trained_model, synth_data, tmp_path):
    _, val = split_samples(find_samples(synth_data), 0.1, 42)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for s in val[:5]:
        shutil.copy(s.path, folder / s.path.name)
    out = cli("predict", trained_model, folder, val[5].path, "--json", "--show-alignment").stdout
    frames = Recognizer.load(trained_model).bundle.config.time_steps
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 6
    for row in rows:
        assert set(row["text"]) <= set("0123456789")
        assert 0 <= row["confidence"] <= 1 and len(row["char_confidences"]) == len(row["text"])
        assert len(row["alignment"]) == frames  # one character (or -) per frame
    labels = {s.path.name: s.label for s in val[:6]}
    correct = sum(r["text"] == labels[r["file"].rsplit("/", 1)[-1]] for r in rows)
    assert correct >= 4


def test_predict_reports_a_broken_file_and_still_predicts(trained_model, synth_data, tmp_path):
    good = find_samples(synth_data)[0].path
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG garbage")
    proc = cli("predict", trained_model, good, bad, check=False)
    assert proc.returncode == 1
    assert "broken.png" in proc.stderr and "Traceback" not in proc.stderr
    assert str(good) in proc.stdout


def test_predict_min_confidence_leaves_unsure_readings_blank(trained_model, synth_data, tmp_path):
    from PIL import Image

    good = find_samples(synth_data)[0].path
    blank = tmp_path / "blank.png"
    Image.new("RGB", (160, 60), "white").save(blank)
    out = cli("predict", trained_model, good, blank, "--json").stdout
    rows = {r["file"]: r for r in map(json.loads, out.splitlines())}
    assert rows[str(blank)]["confidence"] < 0.5 and "guess" not in rows[str(blank)]
    floor = (rows[str(blank)]["confidence"] + rows[str(good)]["confidence"]) / 2
    assert rows[str(good)]["confidence"] > floor  # the trained model is surer of a captcha than of a blank image
    proc = cli("predict", trained_model, good, blank, "--json", "--min-confidence", f"{floor:.6f}")
    sure = {r["file"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert sure[str(good)]["text"] == rows[str(good)]["text"] and "guess" not in sure[str(good)]
    assert sure[str(blank)]["text"] == "" and sure[str(blank)]["guess"] == rows[str(blank)]["text"]
    assert sure[str(blank)]["char_confidences"] == []
    assert "1 of 2 reading(s) had confidence under" in proc.stderr
    text = cli("predict", trained_model, blank, "--min-confidence", "1").stdout
    assert text.startswith(f"{blank}\t\t")  # the text column is empty
    bad = cli("predict", trained_model, blank, "--min-confidence", "1.5", check=False)
    assert bad.returncode == 2 and "--min-confidence" in bad.stderr and "from 0 to 1" in bad.stderr


def test_eval_prints_accuracy_cer_and_mistakes(trained_model, synth_data):
    proc = cli("eval", trained_model, synth_data, "--no-progress")
    assert "accuracy:" in proc.stdout and "CER:" in proc.stdout
    js = json.loads(cli("eval", trained_model, synth_data, "--json", "--no-progress").stdout)
    assert js["images"] == 1500 and 0.7 <= js["accuracy"] <= 1


def test_train_through_the_cli(tmp_path, synth_data):
    proc = cli("train", synth_data, "--out", tmp_path / "run", "--epochs", "1", "--no-progress")
    assert "model:" in proc.stdout and (tmp_path / "run" / "model.pt").is_file()


@pytest.mark.parametrize(
    "args,needle",
    [
        (["train", "{tmp}/empty"], "no images found"),
        (["train", "{tmp}/nothere"], "no such folder"),
        (["eval", "{tmp}/missing.pt", "{tmp}"], "missing.pt: no such model file"),
        (["predict", "{tmp}/junk.pt", "x.png"], "junk.pt: not a captcha-ocr model file"),
        (["eval", "{model}", "{tmp}/unknown"], "does not know"),
        (["train", "{tmp}/unknown", "--cnn-lr", "0"], "--cnn-lr: a positive multiple of the learning rate"),
    ],
)
def test_user_errors_exit_2_with_a_message(tmp_path, trained_model, args, needle):
    from conftest import write_png

    (tmp_path / "empty").mkdir()
    (tmp_path / "junk.pt").write_text("junk")
    write_png(tmp_path / "unknown" / "12x4.png")
    args = [a.format(tmp=tmp_path, model=trained_model) for a in args]
    proc = cli(*args, check=False)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and "Traceback" not in proc.stderr


def test_an_output_path_that_cannot_be_written_is_a_user_error(tmp_path, tiny_folder, capsys):
    """A file where a run folder goes, or a folder where a file goes: exit 2 naming the path, no traceback."""
    from captcha_ocr.bundle import save_bundle
    from captcha_ocr.cli import main
    from conftest import tiny_bundle

    a_file, a_dir = tmp_path / "a_file", tmp_path / "a_dir.onnx"
    a_file.write_text("not a folder")
    a_dir.mkdir()
    model = save_bundle(tiny_bundle(), tmp_path / "model.pt")
    for args, named in [
        (["generate", a_file, "--count", "2"], a_file),
        (["train", tiny_folder, "--out", a_file / "run", "--epochs", "1", "--init", "none"], a_file / "run"),
        (["export", model, a_dir, "--no-verify"], a_dir),
    ]:
        assert main([str(a) for a in args]) == 2, args
        err = capsys.readouterr().err
        assert err.startswith(f"captcha-ocr: error: {named}: "), err
    assert sorted(p.name for p in a_dir.iterdir()) == []  # no temporary file left beside it
    assert a_file.read_text() == "not a folder"


def test_eval_and_inspect_with_a_label_pattern(tmp_path, trained_model, synth_data):
    """Files named LABEL_N.png (the same label may repeat) read with --label-pattern."""
    folder = tmp_path / "named"
    folder.mkdir()
    for i, s in enumerate(find_samples(synth_data)[:40]):
        shutil.copy(s.path, folder / f"{s.label}_{i:03d}.png")
    pattern = r"(.+)_\d+"
    js = json.loads(cli("eval", trained_model, folder, "--label-pattern", pattern, "--json", "--no-progress").stdout)
    assert js["images"] == 40 and js["accuracy"] >= 0.5
    # without the pattern the "_000" suffix is read as part of the label, which the model cannot know
    assert cli("eval", trained_model, folder, "--no-progress", check=False).returncode == 2
    report = json.loads(cli("inspect", folder, "--label-pattern", pattern, "--json", "--no-progress").stdout)
    assert set(report["alphabet"]) <= set("0123456789")  # labels without the "_000" suffix
    (folder / "cover.png").write_bytes((folder / f"{find_samples(synth_data)[0].label}_000.png").read_bytes())
    proc = cli("eval", trained_model, folder, "--label-pattern", pattern, check=False)
    assert proc.returncode == 2 and "cover.png" in proc.stderr and "Traceback" not in proc.stderr
