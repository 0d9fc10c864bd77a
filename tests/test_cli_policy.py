"""The command line's one error policy and its wiring (in process, no training)."""

import sys

import pytest

import captcha_ocr.cli.data as cli_data
from captcha_ocr.cli import build_parser, main
from captcha_ocr.decode import DECODERS
from captcha_ocr.errors import DataError, ExportError, MissingExtraError, ModelFileError


@pytest.mark.parametrize(
    "exc,code",
    [
        (DataError("data/x.png: not a readable image"), 2),
        (ModelFileError("m.pt: no such model file"), 2),
        (ValueError("bad size '9by9'"), 2),
        (MissingExtraError("serving needs the 'serve' extra: pip install 'captcha-ocr[serve]'"), 2),
        (ExportError("m.pt: ONNX Runtime logits differ; nothing written"), 1),
    ],
)
def test_main_turns_library_errors_into_one_line_and_an_exit_code(monkeypatch, capsys, tmp_path, exc, code):
    def boom(_args):
        raise exc

    monkeypatch.setattr(cli_data, "cmd_inspect", boom)
    assert main(["inspect", str(tmp_path)]) == code
    assert capsys.readouterr().err == f"captcha-ocr: error: {exc}\n"


def test_main_does_not_hide_bugs(monkeypatch, tmp_path):
    monkeypatch.setattr(cli_data, "cmd_inspect", lambda _args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        main(["inspect", str(tmp_path)])


def test_choices_come_from_the_registries(capsys):
    assert build_parser().parse_args(["predict", "m.pt", "x.png", "--decoder", DECODERS[-1]]).decoder == DECODERS[-1]
    with pytest.raises(SystemExit) as err:
        build_parser().parse_args(["train", "data", "--preset", "nope"])
    assert err.value.code == 2 and "'seed', 'default'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "data", "--devices", "two"])
    assert build_parser().parse_args(["train", "data", "--devices", "auto"]).devices == "auto"


def test_python_dash_m_runs_the_command():
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "captcha_ocr", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("captcha-ocr ")


def test_train_passes_devices_and_num_nodes(monkeypatch, tmp_path):
    import captcha_ocr.training as training

    class Stop(Exception):
        pass

    seen = []

    def fake_train(request, *args, **kwargs):
        seen.append(request)
        raise Stop

    monkeypatch.setattr(training, "train", fake_train)
    with pytest.raises(Stop):
        main(["train", str(tmp_path), "--devices", "2", "--num-nodes", "3", "--no-progress"])
    assert seen[0].devices == 2 and seen[0].num_nodes == 3


@pytest.mark.parametrize(
    "options,needle",
    [
        (["--epochs", "0"], "--epochs: must be at least 1, got 0"),
        (["--epochs", "-1"], "--epochs: must be at least 1, got -1"),
        (["--max-minutes", "0"], "--max-minutes: must be more than 0, got 0.0"),
        (["--max-minutes", "-1"], "--max-minutes: must be more than 0"),
        (["--lr", "-1"], "--lr: must be more than 0"),
        (["--lr", "nan"], "--lr: must be more than 0, got nan"),
        (["--batch-size", "0"], "--batch-size: must be at least 1"),
        (["--patience", "0"], "--patience: must be at least 1"),
        (["--val-split", "1"], "--val-split: a fraction between 0 and 1"),
        (["--out", "{data}"], "the run folder would be the data folder"),
        (["--out", "{data}/ab1.png"], "ab1.png: a file, not a folder"),
    ],
)
def test_train_refuses_options_no_run_can_use_before_writing_anything(tmp_path, tiny_folder, capsys, options,
                                                                      needle):
    """An ``--epochs 0`` run used to print 'model: run/model.pt' (never written) and exit 0; ``--epochs -1``
    ended in an OverflowError traceback; ``--max-minutes 0`` silently took the default budget."""
    out = tmp_path / "run"
    args = ["train", str(tiny_folder), "--out", str(out), "--no-progress",
            *[o.format(data=tiny_folder) for o in options]]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("captcha-ocr: error: ") and needle in err, err
    assert not out.exists() and sorted(p.suffix for p in tiny_folder.iterdir()) == [".png"] * 6


@pytest.mark.parametrize("command", ["predict", "eval"])
@pytest.mark.parametrize("options,needle", [(["--length", "0"], "a text has at least 1 character"),
                                            (["--length", "5,0"], "a text has at least 1 character"),
                                            (["--length", "40"], "more characters than this model's"),
                                            (["--batch-size", "0"], "--batch-size: must be at least 1"),
                                            (["--batch-size", "-1"], "--batch-size: must be at least 1")])
def test_predict_and_eval_refuse_lengths_and_batch_sizes_that_read_nothing(tmp_path, capsys, command, options,
                                                                           needle):
    """``--length 0`` ended in an IndexError traceback, ``--length 40`` (more than the frames) answered
    empty texts, ``--batch-size -1`` read nothing and exited 0."""
    from captcha_ocr.bundle import save_bundle
    from conftest import tiny_bundle, write_png

    model = save_bundle(tiny_bundle(), tmp_path / "model.pt")
    data = tmp_path / "data"
    for label in ("123", "4567"):
        write_png(data / f"{label}.png", size=(96, 32))
    assert main([command, str(model), str(data), "--widths", "model", *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith("captcha-ocr: error: ") and needle in err, err


def test_export_refuses_a_name_that_is_not_onnx_and_leaves_the_model_alone(tmp_path, capsys):
    """``export self.pt self.pt`` used to overwrite the model with its ONNX graph."""
    pytest.importorskip("onnx")
    from captcha_ocr.bundle import save_bundle
    from conftest import tiny_bundle

    model = save_bundle(tiny_bundle(), tmp_path / "model.pt")
    before = model.read_bytes()
    for out in (model, tmp_path / "model.bin"):
        assert main(["export", str(model), str(out), "--no-verify"]) == 2
        assert "name the ONNX file *.onnx" in capsys.readouterr().err
    assert model.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


@pytest.mark.parametrize("options,needle", [
    (["--length", "4-"], "bad length '4-'"),  # used to be read as 4
    (["--decoder", "greedy", "--length", "5"], "only the constrained decoder keeps to lengths"),  # was ignored
    (["--beam-width", "0"], "beam width 0: at least 1"),
    (["--zooms", "nan"], "zooms must be from 0.25 to 4"),  # was blamed on every image
    (["--zooms", "100"], "zooms must be from 0.25 to 4"),
    (["--widths", "100000"], "widths must be from 8 to 4096 px"),
])
def test_predict_refuses_decode_and_view_options_it_would_ignore_or_misread(tmp_path, capsys, options, needle):
    from captcha_ocr.bundle import save_bundle
    from conftest import tiny_bundle, write_png

    model = save_bundle(tiny_bundle(), tmp_path / "model.pt")
    image = write_png(tmp_path / "123.png", size=(96, 32))
    assert main(["predict", str(model), str(image), *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith("captcha-ocr: error: ") and needle in err, err


def test_eval_show_takes_a_count_of_0_or_more(capsys):
    with pytest.raises(SystemExit) as err:
        build_parser().parse_args(["eval", "m.pt", "data", "--show", "-1"])
    assert err.value.code == 2 and "0 or more, got -1" in capsys.readouterr().err
    assert build_parser().parse_args(["eval", "m.pt", "data", "--show", "0"]).show == 0


def test_export_refuses_a_tolerance_that_passes_anything(tmp_path):
    pytest.importorskip("onnx")
    from captcha_ocr.bundle import save_bundle
    from captcha_ocr.export import export_onnx
    from conftest import tiny_bundle

    model = save_bundle(tiny_bundle(), tmp_path / "model.pt")
    with pytest.raises(ValueError, match="--tolerance: a logit difference of 0 or more, got nan"):
        export_onnx(model, tmp_path / "model.onnx", tolerance=float("nan"))
    assert not (tmp_path / "model.onnx").exists()


@pytest.mark.parametrize("limit,value", [("max_images", 0), ("max_bytes", -1), ("max_pixels", 0), ("max_batch", 0)])
def test_serve_refuses_limits_under_1(tmp_path, limit, value):
    """``max_images=-1`` used to answer every request with 'the limit is -1268821'."""
    pytest.importorskip("fastapi")
    from captcha_ocr.server import create_app

    with pytest.raises(ValueError, match=f"--{limit.replace('_', '-')}: must be at least 1, got {value}"):
        create_app(tmp_path / "not-loaded.pt", **{limit: value})


def test_the_python_api_takes_lengths_as_written_and_refuses_odd_inputs_by_name(tmp_path):
    import numpy as np

    from captcha_ocr import Recognizer
    from captcha_ocr.bundle import load_bundle
    from captcha_ocr.decode import DecodeOptions
    from captcha_ocr.errors import ImageLoadError
    from captcha_ocr.images import default_workers, load_image
    from conftest import tiny_bundle

    # an int was a TypeError, "46" became (4, 6), 4.9 became 4
    assert DecodeOptions(lengths=5).lengths == (5,) and DecodeOptions(lengths="4-6").lengths == (4, 5, 6)
    with pytest.raises(ValueError, match="whole numbers"):
        DecodeOptions(lengths=[4.9])
    with pytest.raises(ValueError, match="--workers: at least 1"):  # (--workers -1 said "max_workers must be ...")
        default_workers(-1)
    assert load_image(np.zeros((4, 6, 2), np.uint8)).mode == "LA"  # grey and alpha, as a PIL "LA" image is read
    with pytest.raises(ImageLoadError, match="an empty path"):  # it read the current folder
        load_image("")
    rec = Recognizer(tiny_bundle())
    with pytest.raises(ValueError, match=r"allow: characters the model does not know: \['X'\]"):
        rec.predict([np.zeros((32, 96), np.uint8)], DecodeOptions(allow="1X"))
    fake = tmp_path / "exported.onnx"
    fake.write_bytes(b"\x08\x07not really onnx")
    with pytest.raises(ValueError, match="an ONNX file: load it with the onnx backend"):
        load_bundle(fake)


def test_the_shipped_model_asked_of_onnx_runtime_says_to_export_it_first():
    """It said 'general: no such model file'."""
    pytest.importorskip("onnxruntime")
    from captcha_ocr import Recognizer

    with pytest.raises(ModelFileError, match=r"general: the shipped model is a PyTorch file; .*captcha-ocr export "
                                             r"general general\.onnx"):
        Recognizer.load("general", backend="onnx")
