"""data=image_folder through the real CLI: class folders of mixed files, labels files (one label and several),
predict without the training folder, and every mistake with one's own folder as one line."""

import csv
import json
import shutil
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.conftest import run_cli
from tests.image_folders import CLASSES, items_of, save_as, write_class_folders, write_labels_file
from tests.test_bad_input import fingerprint

QUICK = ["data=image_folder", "trainer.max_epochs=3", "data.batch_size=16", "~callbacks.images"]


@pytest.fixture(scope="module")
def own_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CNN trained on class folders of real items in eight file forms, with no count typed."""
    root = tmp_path_factory.mktemp("own")
    images = write_class_folders(root / "images", train=24, test=8)
    run_cli("train", *QUICK, f"data.data_dir={images}", f"hydra.run.dir={root / 'run'}")
    return root


def test_a_folder_of_mixed_files_trains_with_nothing_counted(own_run: Path) -> None:
    data = OmegaConf.load(own_run / "run" / ".hydra" / "config.yaml").data
    # The files' facts, saved as they were: src.eval and src.predict rebuild the net without the folder.
    assert data.class_names == sorted(CLASSES) and data.num_classes == 4
    assert data.in_channels == 3 and list(data.image_size) == [28, 28]  # some files are colour; most are 28 px
    metrics = json.loads((own_run / "run" / "metrics.json").read_text())
    assert metrics["test/acc"] >= 0.75  # four kinds of item, 32 test images


def test_predict_needs_no_training_folder_and_names_the_classes(own_run: Path, tmp_path: Path) -> None:
    for name, label in CLASSES.items():
        for number, item in enumerate(items_of(label, 5, "test")):
            save_as(item, tmp_path / "new" / f"{name}_{number}", number)
    shutil.move(own_run / "images", tmp_path / "moved")
    try:
        run_cli("predict", f"ckpt_path={own_run / 'run/checkpoints/best.ckpt'}", f"input={tmp_path / 'new'}",
                f"output={tmp_path / 'out'}")  # fmt: skip
    finally:
        shutil.move(tmp_path / "moved", own_run / "images")
    with open(tmp_path / "out" / "predictions.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 20 and {row["label"] for row in rows} <= set(CLASSES)
    right = sum(Path(row["path"]).name.startswith(row["label"]) for row in rows)
    assert right >= 14


def test_a_labels_file_with_several_labels_per_image_trains_multilabel(tmp_path: Path) -> None:
    names = list(CLASSES)
    rows = [(f"{n}.png", ";".join(sorted({names[n % 4], names[(n * 7 + 1) % 4]})), "test" if n % 5 == 0 else "")
            for n in range(80)]  # fmt: skip
    labels = write_labels_file(tmp_path / "own", rows)
    run_cli("train", *QUICK, f"data.labels={labels}", f"hydra.run.dir={tmp_path / 'run'}")
    assert "task=multilabel" in (tmp_path / "run" / ".hydra" / "overrides.yaml").read_text()  # chosen from the file
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(metrics) >= {"test/map", "test/f1_micro", *(f"test/ap/{name}" for name in names)}
    assert metrics["test/map"] > 0.6


def test_a_labels_file_with_one_label_per_image_trains_a_classifier(tmp_path: Path) -> None:
    names = list(CLASSES)
    labels = write_labels_file(tmp_path / "own", [(f"{n}.png", names[n % 4], "") for n in range(60)])
    run_cli("train", *QUICK, f"data.labels={labels}", "data.test_size=12", f"hydra.run.dir={tmp_path / 'run'}")
    assert "task=" not in (tmp_path / "run" / ".hydra" / "overrides.yaml").read_text()
    assert "test/acc" in json.loads((tmp_path / "run" / "metrics.json").read_text())


@pytest.fixture(scope="module")
def mistakes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Own folders with one thing wrong each."""
    root = tmp_path_factory.mktemp("mistakes")
    corrupt = write_class_folders(root / "corrupt", train=6, test=2)
    (corrupt / "train" / "bag" / "000.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    write_class_folders(root / "empty_class", train=6, test=2)
    (root / "empty_class" / "train" / "boots").mkdir()
    (root / "empty_class" / "train" / "boots" / "readme.txt").write_text("no images")
    single = root / "one_class" / "train" / "bag"
    for number, item in enumerate(items_of(CLASSES["bag"], 4)):
        save_as(item, single / f"{number}", 0)
    write_class_folders(root / "stranger", train=6, test=2)
    shutil.copytree(root / "stranger" / "test" / "bag", root / "stranger" / "test" / "zebra")
    (root / "no_train").mkdir()
    write_labels_file(root / "missing", [("a.png", "bag", ""), ("b.png", "trouser", "")])
    with open(root / "missing" / "labels.csv", "a") as file:
        file.write("images/gone.png,bag,\n")
    write_labels_file(root / "empty_label", [("a.png", "bag", ""), ("b.png", "trouser", "")])
    with open(root / "empty_label" / "labels.csv", "a") as file:
        file.write("images/a.png,,\n")
    return root


MISTAKES = {
    "corrupt image": (["data.data_dir={root}/corrupt"], "cannot read {root}/corrupt/train/bag/000.png as an image"),
    "a class folder with no images": (["data.data_dir={root}/empty_class"], "{root}/empty_class/train/boots holds no images"),
    "fewer than two classes": (["data.data_dir={root}/one_class"], "has 1 class (bag); a classifier needs at least two"),
    "a test class that train lacks": (["data.data_dir={root}/stranger"], "{root}/stranger/test/zebra is a class that"),
    "no train folder": (["data.data_dir={root}/no_train"], "Image folder files not found (looked in: {root}/no_train/train)"),
    "no folder at all": ([], "data=image_folder needs data.data_dir=DIR or data.labels=FILE.csv"),
    "labels naming a missing image": (["data.labels={root}/missing/labels.csv"], "labels.csv line 4 names {root}/missing/images/gone.png, which does not exist"),
    "an empty label": (["data.labels={root}/empty_label/labels.csv"], "labels.csv line 4 has an empty label"),
}  # fmt: skip


@pytest.mark.parametrize("case", MISTAKES)
def test_a_mistake_in_ones_folder_is_one_line_and_writes_nothing(case: str, mistakes: Path, tmp_path: Path) -> None:
    args, message = MISTAKES[case]
    before = fingerprint(mistakes)
    result = run_cli("train", *QUICK, *(a.format(root=mistakes) for a in args), f"hydra.run.dir={tmp_path}",
                     "data.cache=disk", check=False)  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message.format(root=mistakes) in errors[0]
    assert fingerprint(mistakes) == before  # no half-written decoded file beside the data


def test_skip_bad_leaves_unreadable_files_out_and_says_how_many(mistakes: Path, tmp_path: Path) -> None:
    result = run_cli("train", *QUICK, f"data.data_dir={mistakes / 'corrupt'}", "data.skip_bad=true",
                     "trainer.max_epochs=1", f"hydra.run.dir={tmp_path}", "data.cache=memory")  # fmt: skip
    assert f"{mistakes / 'corrupt'}: left out 1 unreadable image(s) (data.skip_bad=true)" in result.stderr
