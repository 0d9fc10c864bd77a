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
