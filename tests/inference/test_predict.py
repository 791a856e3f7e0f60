"""python -m src.predict on files the tests write: every task's outputs, the run's preprocessing, masks at each
image's own size equal to src.eval's, every input written once (also by 2 DDP processes), and each bad input
as one line through the real CLI (backend=onnx: tests/inference/test_export.py)."""

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image
from torchvision.transforms.v2 import functional as F

from tests.conftest import compose_config, run_cli
from tests.inference.runs import (
    DIGITS,
    checkpoint_net,
    digit_images,
    digits_run,
    segmentation_run,
    truncated,
    write_digits,
    write_scenes,
)

__all__ = ["digits_run", "segmentation_run"]  # the module's fixtures: trained once


def rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "predictions.csv", newline="") as file:
        return list(csv.DictReader(file))


def expected_logits(ckpt: Path, images: torch.Tensor) -> tuple[torch.Tensor, list[str]]:
    """The checkpoint's logits for uint8 (N, 1, 8, 8) digits, normalised as the data module does at test time."""
    datamodule = instantiate(compose_config("train", "data=digits").data)
    with torch.no_grad():
        return checkpoint_net(ckpt, *DIGITS, "model=mlp")(datamodule.preprocess(images)), datamodule.class_names


def test_classifier_rows_are_the_checkpoints_predictions_with_top_k(digits_run: Path, tmp_path: Path) -> None:
    paths = write_digits(tmp_path / "in", 20)
    result = run_cli("predict", f"ckpt_path={digits_run}", f"input={tmp_path / 'in'}", f"output={tmp_path / 'out'}")
    written = rows(tmp_path / "out")
    assert [row["path"] for row in written] == [str(p) for p in paths]  # every input once, in order
    logits, names = expected_logits(digits_run, torch.as_tensor(digit_images(20)[0])[:, None])
    assert len(set(logits.argmax(1).tolist())) > 2  # the net tells digits apart: the labels below mean something
    assert [row["label"] for row in written] == [names[i] for i in logits.argmax(1)]
    expected = torch.softmax(logits, 1).max(1).values.tolist()
    assert [float(row["probability"]) for row in written] == pytest.approx(expected, abs=2e-6)
    for row in written:  # top-k: distinct classes in decreasing order of probability
        chances = [float(row[key]) for key in ("probability", "top2_probability", "top3_probability")]
        assert chances == sorted(chances, reverse=True)
        assert len({row["label"], row["top2_label"], row["top3_label"]}) == 3
    assert "predicted 20 image(s), skipped 0 unreadable; 0 converted" in result.stdout


def test_colour_jpeg_and_odd_sizes_are_converted_to_grey_and_resized(digits_run: Path, tmp_path: Path) -> None:
    paths = [*write_scenes(tmp_path / "in", [(13, 29), (40, 21)], [".jpg", ".png"])]
    grey = tmp_path / "in" / "grey.png"
    Image.fromarray(np.kron(digit_images(1)[0][0], np.ones((3, 2), dtype=np.uint8))).save(grey)  # 24x16 grey
    result = run_cli("predict", f"ckpt_path={digits_run}", f"input={tmp_path / 'in' / '*'}", "top_k=1",
                     f"output={tmp_path / 'out'}")  # fmt: skip
    written = rows(tmp_path / "out")
    assert list(written[0]) == ["path", "label", "probability"]  # top_k=1: no more columns
    # The run's evaluation preprocessing: grey (PIL's L), antialiased resize to 8x8, the data's mean and std.
    images = torch.stack([F.resize(F.pil_to_tensor(Image.open(p).convert("L")), [8, 8], antialias=True)
                          for p in sorted([*paths, grey])])  # fmt: skip
    logits, names = expected_logits(digits_run, images)
    assert [row["label"] for row in written] == [names[i] for i in logits.argmax(1)]
    assert "2 converted to grey (the run's channels)" in result.stdout


def test_masks_come_back_at_each_images_size_and_equal_src_evals(segmentation_run: Path, tmp_path: Path) -> None:
    run = segmentation_run.parent.parent
    test_images = sorted((Path(_saved(run, "data.data_dir")) / "test" / "images").glob("*.png"))
    odd = write_scenes(tmp_path / "odd", [(45, 37), (17, 61)], [".jpg", ".png"])
    for path in [*test_images, *odd]:
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / path.name).write_bytes(path.read_bytes())
    result = run_cli("predict", f"ckpt_path={segmentation_run}", f"input={tmp_path / 'in'}", "overlay=true",
                     f"output={tmp_path / 'out'}")  # fmt: skip
    assert "predicted 6 image(s)" in result.stdout
    masks = {p.stem: Image.open(p) for p in (tmp_path / "out" / "masks").glob("*.png")}
    assert sorted(masks) == sorted(p.stem for p in [*test_images, *odd])
    for path in [*test_images, *odd]:  # each mask and overlay at its image's own size
        assert masks[path.stem].size == Image.open(path).size and masks[path.stem].mode == "P"
        assert Image.open(tmp_path / "out" / "overlays" / f"{path.stem}.png").size == Image.open(path).size
    run_cli(
        "eval", f"ckpt_path={segmentation_run}", "callbacks.images.num_samples=4", f"hydra.run.dir={tmp_path / 'eval'}"
    )
    for index, path in enumerate(test_images):  # src.eval saves the first test images' predicted masks
        evaluated = np.asarray(Image.open(tmp_path / "eval" / "predictions" / f"{index:03d}_prediction.png"))
        assert np.array_equal(np.asarray(masks[path.stem]), evaluated)
    assert len(np.unique(np.concatenate([np.asarray(m).ravel() for m in masks.values()]))) > 1  # not one class


def _saved(run: Path, key: str) -> str:
    from omegaconf import OmegaConf

    return str(OmegaConf.select(OmegaConf.load(run / ".hydra" / "config.yaml"), key))


def test_two_ddp_processes_write_every_input_exactly_once(digits_run: Path, tmp_path: Path) -> None:
    write_digits(tmp_path / "in", 13)  # odd: the ranks' shares differ, and nothing may be padded or repeated
    common = [f"ckpt_path={digits_run}", f"input={tmp_path / 'in'}", "batch_size=4"]
    run_cli("predict", *common, f"output={tmp_path / 'one'}")
    run_cli("predict", *common, "trainer=ddp_cpu", f"output={tmp_path / 'two'}")
    two = rows(tmp_path / "two")
    assert len(two) == len({row["path"] for row in two}) == 13
    assert two == rows(tmp_path / "one")
    assert sorted(p.name for p in (tmp_path / "two").glob("predictions*")) == ["predictions.csv"]  # shards merged


def error_line(result) -> str:
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_an_unreadable_image_is_named_and_skipped_or_stops_the_command(digits_run: Path, tmp_path: Path) -> None:
    paths = write_digits(tmp_path / "in", 5)
    broken = truncated(tmp_path / "in" / "digit99.png", paths[0])
    (tmp_path / "in" / "notes.png").write_text("not an image")
    result = run_cli("predict", f"ckpt_path={digits_run}", f"input={tmp_path / 'in'}", f"output={tmp_path / 'out'}")
    assert f"skipped: cannot read {broken} as an image" in result.stdout
    assert f"skipped: cannot read {tmp_path / 'in' / 'notes.png'} as an image" in result.stdout
    assert [row["path"] for row in rows(tmp_path / "out")] == [str(p) for p in paths]
    assert "predicted 5 image(s), skipped 2 unreadable" in result.stdout
    strict = run_cli("predict", f"ckpt_path={digits_run}", f"input={tmp_path / 'in'}", "strict=true",
                     f"output={tmp_path / 'strict'}", check=False)  # fmt: skip
    assert error_line(strict).startswith(f"error: cannot read {broken} as an image (")


@pytest.mark.parametrize(
    ("input_", "expected"),
    [
        ("empty", "error: input={} is a folder without image files"),
        ("in/*.tif", "error: input={} matches no file"),
        ("missing.png", "error: input={} does not exist; pass an image file, a folder of images or a glob"),
    ],
)
def test_inputs_that_name_no_image_are_one_line(digits_run: Path, tmp_path: Path, input_: str, expected: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    write_digits(tmp_path / "in", 2)
    spec = str(tmp_path / input_)
    result = run_cli("predict", f"ckpt_path={digits_run}", f"input={spec}", check=False)
    assert error_line(result).startswith(expected.format(spec))


def test_a_checkpoint_that_is_not_the_projects_is_one_line(digits_run: Path, tmp_path: Path) -> None:
    write_digits(tmp_path / "in", 2)
    (tmp_path / "text.ckpt").write_text("not a checkpoint")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.ckpt")
    text = run_cli("predict", f"ckpt_path={tmp_path / 'text.ckpt'}", f"input={tmp_path / 'in'}", "data=digits",
                   check=False)  # fmt: skip
    assert error_line(text).startswith(f"error: {tmp_path / 'text.ckpt'} is not a readable Lightning checkpoint")
    other = run_cli("predict", f"ckpt_path={tmp_path / 'other.ckpt'}", f"input={tmp_path / 'in'}", check=False)
    assert error_line(other).startswith(f"error: {tmp_path / 'other.ckpt'} is not a Lightning checkpoint")
    wrong = run_cli("predict", f"ckpt_path={digits_run}", f"input={tmp_path / 'in'}", "model=cnn", check=False)
    assert "does not fit this model" in error_line(wrong)


def test_a_task_predict_cannot_serve_is_one_line(digits_run: Path, tmp_path: Path) -> None:
    write_digits(tmp_path / "in", 2)
    result = run_cli("predict", f"ckpt_path={digits_run}", f"input={tmp_path / 'in'}",
                     "task._target_=tests.inference.runs.UnservedTask", check=False)  # fmt: skip
    assert error_line(result).startswith("error: python -m src.predict and src.export cannot serve the classification")


def test_existing_predictions_are_kept_unless_overwrite(digits_run: Path, tmp_path: Path) -> None:
    write_digits(tmp_path / "in", 3)
    common = [f"ckpt_path={digits_run}", f"input={tmp_path / 'in'}", f"output={tmp_path / 'out'}"]
    run_cli("predict", *common)
    (tmp_path / "out" / "predictions.csv").write_text("mine\n")
    result = run_cli("predict", *common, check=False)
    assert error_line(result).startswith(f"error: {tmp_path / 'out' / 'predictions.csv'} exists; pass overwrite=true")
    assert (tmp_path / "out" / "predictions.csv").read_text() == "mine\n"
    run_cli("predict", *common, "overwrite=true")
    assert len(rows(tmp_path / "out")) == 3


def test_onnx_backend_options_are_checked(digits_run: Path, tmp_path: Path) -> None:
    write_digits(tmp_path / "in", 2)
    common = [f"ckpt_path={digits_run}", f"input={tmp_path / 'in'}"]
    assert "backend=onnx needs onnx_path=" in error_line(run_cli("predict", *common, "backend=onnx", check=False))
    missing = run_cli("predict", *common, "backend=onnx", f"onnx_path={tmp_path / 'no.onnx'}", check=False)
    assert error_line(missing).startswith(f"error: onnx_path={tmp_path / 'no.onnx'} does not exist")
    assert "backend must be one of ['torch', 'onnx']" in error_line(
        run_cli("predict", *common, "backend=tf", check=False)
    )
