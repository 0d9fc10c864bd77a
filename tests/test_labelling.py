"""Labelling: labels.csv written atomically, the queue's order, resuming, existing labels, the
label API's 4xx answers, and retraining in the background (FastAPI TestClient; untrained
models, so no training except the one retrain test)."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import pytest
from PIL import Image

from captcha_ocr import Recognizer
from captcha_ocr.bundle import save_bundle
from captcha_ocr.decode import DecodeOptions
from captcha_ocr.errors import DataError
from captcha_ocr.labelling import LabelSession
from captcha_ocr.labelstore import LabelError, LabelStore, image_key
from captcha_ocr.samples import find_samples
from conftest import run_cli, tiny_bundle, unlabelled_folder

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated")

DIGITS = "0123456789"


def rows(root: Path) -> list[list[str]]:
    with open(root / "labels.csv", newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def manifest(root: Path) -> dict[str, str]:
    """labels.csv as train reads it (find_samples), file name -> label."""
    return {s.path.name: s.label for s in find_samples(root)}


@pytest.fixture
def folder(tmp_path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "captchas"
    return root, unlabelled_folder(root, 8, seed=4)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return save_bundle(tiny_bundle(seed=1), tmp_path_factory.mktemp("model") / "model.pt")


def client_for(session: LabelSession, **retrain):
    from fastapi.testclient import TestClient

    from captcha_ocr.label_server import create_label_app
    from captcha_ocr.retrain import Retrainer

    return TestClient(create_label_app(session, Retrainer(session, **retrain)))


# ----------------------------------------------------------------------------- labels.csv


def test_every_label_is_on_disk_at_once_and_train_reads_it(folder):
    root, truth = folder
    store = LabelStore(root)
    assert not (root / "labels.csv").exists()  # nothing entered, nothing written
    names = sorted(truth)
    for i, name in enumerate(names[:3]):
        store.set(name, truth[name])
        assert manifest(root) == {n: truth[n] for n in names[: i + 1]}  # after every single label
    store.set(names[0], "9999")  # a fix keeps its row, in place
    assert rows(root) == [["file", "label"], [names[0], "9999"], [names[1], truth[names[1]]],
                          [names[2], truth[names[2]]]]
    store.set("odd, name.png", 'a,"b"')  # quoted as CSV, read back verbatim
    assert find_samples(root)[-1].label == 'a,"b"'


def test_a_failed_write_leaves_the_old_labels_csv_whole(folder, monkeypatch):
    root, truth = folder
    store = LabelStore(root)
    a, b = sorted(truth)[:2]
    store.set(a, "123")
    before = (root / "labels.csv").read_bytes()

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        store.set(b, "456")
    monkeypatch.undo()
    assert (root / "labels.csv").read_bytes() == before  # never half a file
    assert not [p for p in root.iterdir() if p.name.startswith(".labels.csv")]  # no temporary left
    assert LabelStore(root).labels == {a: "123"}


def test_labels_are_checked(folder):
    root, _ = folder
    store = LabelStore(root, alphabet=DIGITS)
    for bad, needle in [("", "empty"), ("   ", "empty"), ("12a4", "outside the alphabet"),
                        ("12\n3", "control characters")]:
        with pytest.raises(LabelError, match=needle):
            store.set("img_0000.png", bad)
    assert not (root / "labels.csv").exists()
    store.set("img_0000.png", " 123 ")  # kept as train reads it (a label of spaces was saved, then refused)
    assert [s.label for s in find_samples(root)] == ["123"]
    with pytest.raises(DataError, match="no such folder"):
        LabelStore(root / "missing")


def test_existing_labels_are_kept(tmp_path):
    root = tmp_path / "mixed"
    truth = unlabelled_folder(root, 7, seed=2)
    names = sorted(truth)
    (root / "old").mkdir()
    (root / names[2]).rename(root / "old" / names[2])  # a manifest may list files in sub-folders
    (root / "labels.tsv").write_text(f"file\tlabel\n{names[0]}\t{truth[names[0]]}\nold/{names[2]}\t{truth[names[2]]}\n",
                                     encoding="utf-8")
    named = root / f"{truth[names[1]]}_x.png"  # a file named by its label
    (root / names[1]).rename(named)
    session = LabelSession(root, label_pattern=r"(\d+)_x")
    assert session.progress()["labelled"] == 3 and session.progress()["images"] == 7
    assert session.item(f"old/{names[2]}").label == truth[names[2]]
    queued = session.upcoming(10)
    assert queued == names[3:]
    session.save(queued[0], "777")
    # labels.csv now holds the old labels as well (train reads it instead of the tsv and the names)
    assert {image_key(root, s.path): s.label for s in find_samples(root)} == {
        names[0]: truth[names[0]], f"old/{names[2]}": truth[names[2]], named.name: truth[names[1]], queued[0]: "777"}
    again = LabelSession(root)  # a restart needs labels.csv only
    assert again.progress()["labelled"] == 4 and again.upcoming(10) == queued[1:]


def test_two_writers_on_one_folder_lose_no_labels(folder):
    """A second labelling page on the same folder, or an edit by hand, used to be overwritten by the
    next label the first one saved."""
    root, _ = folder
    first, second = LabelStore(root), LabelStore(root)
    first.set("img_0000.png", "111")
    second.set("img_0001.png", "222")  # second has not seen first's label
    first.set("img_0002.png", "333")
    with open(root / "labels.csv", "a", encoding="utf-8") as fh:
        fh.write("img_0003.png,444\n")  # by hand
    second.set("img_0001.png", "2222")  # second's own change wins over the file's
    labels = {s.path.name: s.label for s in find_samples(root)}
    assert labels == {"img_0000.png": "111", "img_0001.png": "2222", "img_0002.png": "333", "img_0003.png": "444"}


def test_a_manifest_with_absolute_paths_and_extra_columns(folder, monkeypatch):
    """Absolute paths in labels.csv and a relative folder name the same files (they were queued again);
    columns the store would drop are warned of."""
    root, _ = folder
    (root / "labels.csv").write_text(f"file,label,checked_by\n{root / 'img_0000.png'},123,ann\n", encoding="utf-8")
    monkeypatch.chdir(root.parent)
    store = LabelStore(root.name)
    assert "img_0000.png" in store and store.get("img_0000.png") == "123"
    assert any("3 columns" in note for note in store.notes)


# ----------------------------------------------------------------------------- order, resume, skips


def test_least_confident_first_and_a_restart_resumes(folder, model):
    root, truth = folder
    rec = Recognizer.load(model)
    options = DecodeOptions(allow=DIGITS)
    conf = {name: rec.predict(root / name, options)[0].confidence for name in truth}
    expected = sorted(truth, key=lambda n: (conf[n], n))
    assert len(set(conf.values())) > 4  # the order is not the file order by accident
    session = LabelSession(root, model, alphabet=DIGITS)
    assert session.upcoming(8) == expected
    item = session.next_item()
    assert item.file == expected[0] and item.reading.text == rec.predict(root / expected[0], options)[0].text
    session.save(expected[0], truth[expected[0]])
    session.skip(expected[1])
    session.save(expected[2], truth[expected[2]])
    assert session.upcoming(8) == expected[3:] + [expected[1]]  # a skip goes to the back
    assert session.recent() == expected[:3]
    restarted = LabelSession(root, model, alphabet=DIGITS)  # skips live in memory; labels do not
    assert restarted.upcoming(8) == [expected[1]] + expected[3:]
    assert restarted.recent() == [expected[0], expected[2]]
    assert restarted.item(expected[2]).label == truth[expected[2]]


def test_without_a_model_file_order_and_unreadable_files(folder):
    root, truth = folder
    (root / "broken.png").write_bytes(b"\x89PNG not really")
    session = LabelSession(root)
    assert session.upcoming(20) == sorted(truth)
    assert "broken.png" in session.unreadable and session.progress()["unreadable"] == 1
    assert session.next_item().reading is None


# ----------------------------------------------------------------------------- the HTTP API


def test_label_api_saves_and_moves_on(folder, model):
    root, truth = folder
    session = LabelSession(root, model, alphabet=DIGITS)
    with client_for(session) as c:
        first = c.get("/api/next").json()
        name = first["next"]["file"]
        assert first["progress"] == {"images": 8, "labelled": 0, "remaining": 8, "skipped": 0, "unreadable": 0,
                                     "entered": 0}
        img = c.get(first["next"]["image"])
        assert img.status_code == 200 and img.content == (root / name).read_bytes()
        r = c.post("/api/label", json={"file": name, "label": truth[name]})
        assert r.status_code == 200 and "app;dur=" in r.headers["server-timing"]
        body = r.json()
        assert body["saved"] == {"file": name, "label": truth[name]} and body["next"]["file"] != name
        assert body["progress"]["labelled"] == 1 and len(body["upcoming"]) == 3
        assert manifest(root) == {name: truth[name]}
        skipped = body["next"]["file"]
        after = c.post("/api/skip", json={"file": skipped}).json()
        assert after["next"]["file"] not in (name, skipped) and after["progress"]["skipped"] == 1
        state = c.get("/api/state").json()
        assert state["recent"] == [name, skipped] and state["alphabet"] == DIGITS
        assert state["model"]["source"] == str(model) and state["retrain"]["state"] == "idle"
        assert c.get("/api/item", params={"file": name}).json()["label"] == truth[name]
        page = c.get("/")
        assert page.status_code == 200 and "/static/label.js" in page.text
        assert c.get("/static/label.js").status_code == 200


@pytest.mark.parametrize(
    "method,url,kwargs,status,needle",
    [
        ("post", "/api/label", {"json": {"file": "img_0000.png", "label": "12a"}}, 422, "outside the alphabet"),
        ("post", "/api/label", {"json": {"file": "img_0000.png", "label": ""}}, 422, "empty"),
        ("post", "/api/label", {"json": {"file": "nope.png", "label": "123"}}, 404, "nope.png: not an image"),
        ("post", "/api/label", {"json": {"file": "../etc/passwd", "label": "123"}}, 404, "not an image"),
        ("post", "/api/label", {"json": {"label": "123"}}, 422, "file"),
        ("post", "/api/label", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 422, ""),
        ("post", "/api/skip", {"json": {"file": "nope.png"}}, 404, "not an image"),
        ("get", "/api/image", {"params": {"file": "../labels.csv"}}, 404, "not an image"),
        ("get", "/api/image", {"params": {"file": "broken.png"}}, 400, "not a readable image"),
        ("get", "/api/item", {"params": {"file": "nope.png"}}, 404, "not an image"),
        ("post", "/api/retrain", {}, 409, "at least 10 labels"),
    ],
)
def test_bad_input_is_a_4xx_json_error(folder, method, url, kwargs, status, needle):
    root, _ = folder
    (root / "broken.png").write_bytes(b"GIF89a junk")
    session = LabelSession(root, alphabet=DIGITS)
    with client_for(session) as c:
        r = getattr(c, method)(url, **kwargs)
    assert r.status_code == status, r.text
    assert needle in str(r.json()["detail"])
    assert not (root / "labels.csv").exists()


def test_the_label_command_reports_a_missing_folder(tmp_path):
    proc = run_cli("label", tmp_path / "missing", "--port", "1", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith(f"captcha-ocr: error: {tmp_path / 'missing'}: no such folder")
    (tmp_path / "empty").mkdir()  # it used to start a server with nothing to label
    proc = run_cli("label", tmp_path / "empty", "--port", "1", check=False)
    assert proc.returncode == 2 and f"error: {tmp_path / 'empty'}: no images found to label" in proc.stderr


def test_a_failed_retrain_shows_the_files_its_error_names():
    from captcha_ocr.retrain import failure_message

    log = "epoch 1\ncaptcha-ocr: error: 1 unusable label(s):\n  run/000003.png: empty label\n"
    assert failure_message(log) == "captcha-ocr: error: 1 unusable label(s):\n  run/000003.png: empty label"
    assert failure_message("epoch 1\nKilled") == "Killed"  # no error line: the last line
    assert failure_message("") == "no output"


# ----------------------------------------------------------------------------- retraining


@pytest.mark.slow
def test_retrain_in_the_background_switches_the_readings(tmp_path):
    """A real training subprocess, kept to seconds: 12 tiny images, 2 epochs."""
    root = tmp_path / "captchas"
    truth = unlabelled_folder(root, 12, seed=6, size=(64, 24))
    session = LabelSession(root)  # no model: no readings yet
    with client_for(session, epochs=2, extra_args=("--no-report",)) as c:
        names = sorted(truth)
        for name in names[:10]:
            assert c.post("/api/label", json={"file": name, "label": truth[name]}).status_code == 200
        assert c.get("/api/next").json()["next"]["reading"] is None
        started = c.post("/api/retrain")
        assert started.status_code == 202 and started.json()["state"] == "training" and started.json()["labels"] == 10
        assert c.post("/api/retrain").status_code == 409  # one at a time
        deadline = time.monotonic() + 240
        while (status := c.get("/api/retrain").json())["state"] in ("training", "refreshing"):
            assert time.monotonic() < deadline, status
            time.sleep(0.5)
        assert status["state"] == "done", status
        run = root / "label-runs" / "run-001"
        assert status["run"] == str(run) and (run / "model.pt").is_file() and (run / "train.log").is_file()
        assert status["epoch"] == 2 and status["model"] == str(run / "model.pt")
        state = c.get("/api/state").json()
        assert state["model"] == {"source": str(run / "model.pt"), "version": 1, "note": state["model"]["note"]}
        assert state["model"]["note"].startswith("retrained on 10 labels")
        nxt = c.get("/api/next").json()["next"]
        expected = Recognizer.load(run / "model.pt").predict(root / nxt["file"])[0]
        assert nxt["reading"]["text"] == expected.text
        assert manifest(root) == {n: truth[n] for n in names[:10]}  # training wrote no labels
    from captcha_ocr.retrain import latest_model

    assert latest_model(root / "label-runs") == run / "model.pt"  # what a restarted server goes on with
    Image.open(root / names[0]).verify()  # the images are untouched


def test_the_pages_ship_in_the_wheel(tmp_path):
    """The page assets are package data: a wheel built from the project holds every one."""
    import shutil
    import subprocess
    import sys
    import zipfile

    from captcha_ocr.pages import WEB

    project = Path(__file__).resolve().parents[1]
    copy = tmp_path / "project"  # built from a copy: no build/ or egg-info left in the work tree
    shutil.copytree(project / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(project / name, copy / name)
    import importlib.util

    # with setuptools at hand, no download of the build backend
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation, "-w",
                    str(tmp_path / "dist"), str(copy)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("captcha_ocr-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assets = sorted(p.name for p in WEB.iterdir() if p.suffix in (".html", ".js", ".css"))
    assert len(assets) >= 6
    assert {f"captcha_ocr/web/{a}" for a in assets} <= names
