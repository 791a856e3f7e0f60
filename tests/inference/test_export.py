"""python -m src.export format=onnx for every kind of net (MLP, CNN, U-Net, the FPN head, EfficientNet-Lite0
with its real weights): model.onnx and model.json, the parity check it prints, ONNX Runtime against the
checkpoint on batch and image sizes it never saw, predict with backend=onnx, and its refusals."""

import json
import os
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from PIL import Image

from tests.conftest import ROOT, run_cli
from tests.inference.runs import (
    DIGITS,
    SEGMENTATION,
    UNET,
    checkpoint_net,
    segmentation_data,
    train,
    write_digits,
    write_scenes,
)

# The table MLP's export is tested in tests/test_cli_tasks.py; the digits' MLP would add nothing but a run.
CLASSIFIERS = {
    "cnn": [*DIGITS, "model=cnn", "model.channels=[8,16]", "model.hidden_size=16"],
    "efficientnet_lite0": [
        *DIGITS,
        "model=efficientnet_lite0",
        "model.weights=package",
        "data.batch_size=8",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=1",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "model.input_size=64",  # not the weights' 224: the same net and export, a twelfth of the arithmetic
    ],
}
SEGMENTERS = {
    "unet": [*SEGMENTATION, *UNET],
    "cnn_fpn": [*SEGMENTATION, "model=cnn_fpn", "model.encoder.channels=[8,16]", "model.decoder_channels=8"],
}


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return segmentation_data(tmp_path_factory.mktemp("scenes"))


EXPORTS: dict[str, dict] = {}


def export_of(name: str, tmp_path_factory: pytest.TempPathFactory, scenes: Path) -> dict:
    """A tiny run of the model, exported once per module: its checkpoint, overrides, export folder, model.json
    and what the command printed."""
    if name not in EXPORTS:
        EXPORTS[name] = _export(name, tmp_path_factory, scenes)
    return EXPORTS[name]


def _export(name: str, tmp_path_factory: pytest.TempPathFactory, scenes: Path) -> dict:
    overrides = CLASSIFIERS.get(name) or [*SEGMENTERS[name], f"data.data_dir={scenes}"]
    ckpt = train(tmp_path_factory.mktemp(name), *overrides)
    folder = tmp_path_factory.mktemp(f"{name}_export")
    result = run_cli("export", f"ckpt_path={ckpt}", "format=onnx", f"output={folder}")
    card = json.loads((folder / "model.json").read_text())
    return {"name": name, "ckpt": ckpt, "overrides": overrides, "folder": folder, "card": card, "stdout": result.stdout}


@pytest.fixture(scope="module", params=[*CLASSIFIERS, *SEGMENTERS])
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, scenes: Path) -> dict:
    return export_of(request.param, tmp_path_factory, scenes)


@pytest.fixture(scope="module", params=["cnn", "unet"])
def cnn_and_unet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, scenes: Path) -> dict:
    return export_of(request.param, tmp_path_factory, scenes)


def test_export_writes_a_checked_model_and_its_card(exported: dict) -> None:
    folder, card, segmenter = exported["folder"], exported["card"], exported["name"] in SEGMENTERS
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("model")) == ["model.json", "model.onnx"]
    model = onnx.load(folder / "model.onnx")
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [18]
    atol = 1.5e-3 if exported["name"] == "efficientnet_lite0" else 1e-5  # TF "same" padding: a fixed size
    parity = card["parity"]
    assert parity["agreement"] == 1.0 and parity["within_tolerance"] and parity["atol"] == atol
    assert f"largest |difference| {parity['max_abs_difference']:.3g}" in exported["stdout"]
    batches = [shape[0] for shape in parity["inputs"]]
    assert batches == [3] * (2 if segmenter else 1)  # traced on 2: checked on another batch size (and image size)
    assert card["input"]["dynamic_size"] == segmenter and card["input"]["shape"][0] == "batch"
    assert card["task"] == ("segmentation" if segmenter else "classification")
    assert card["class_names"] == (["background", "red", "green"] if segmenter else [str(d) for d in range(10)])
    assert card["input"]["model_normalizes"] == (exported["name"] == "efficientnet_lite0")
    assert "model=" + exported["name"] in card["overrides"]


def test_onnx_runtime_matches_the_checkpoint_on_unseen_batch_and_image_sizes(exported: dict) -> None:
    net = checkpoint_net(exported["ckpt"], *exported["overrides"])
    session = onnxruntime.InferenceSession(str(exported["folder"] / "model.onnx"), providers=["CPUExecutionProvider"])
    channels, height, width = (exported["card"]["input"][key] for key in ("shape", "height", "width"))
    sizes = [(height, width), (height + 7, width - 3)] if exported["name"] in SEGMENTERS else [(height, width)]
    atol = exported["card"]["parity"]["atol"]
    generator = torch.Generator().manual_seed(0)
    for size in sizes:
        images = torch.randn(5, channels[1], *size, generator=generator)
        with torch.no_grad():
            expected = net(images)
        got = torch.from_numpy(session.run(None, {"images": images.numpy()})[0])
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected, rtol=1e-3, atol=atol)
        assert torch.equal(got.argmax(1), expected.argmax(1))


def deploy(folder: Path, image_path: Path) -> int:
    """README "Use a trained model": what a deployer writes with model.json and ONNX Runtime alone."""
    card = json.loads((folder / "model.json").read_text())
    spec = card["input"]
    image = Image.open(image_path).convert("L" if spec["shape"][1] == 1 else "RGB")
    image = image.resize((spec["width"], spec["height"]), Image.BILINEAR)  # antialiased, as torchvision's
    x = np.asarray(image, dtype=np.float32).reshape(spec["height"], spec["width"], -1) / 255
    x = (x - np.array(spec["mean"], dtype=np.float32)) / np.array(spec["std"], dtype=np.float32)
    x = x.transpose(2, 0, 1)[None].astype(np.float32)  # (1, channels, height, width)
    session = onnxruntime.InferenceSession(str(folder / card["file"]), providers=["CPUExecutionProvider"])
    logits = session.run(None, {spec["name"]: x})[0]
    return int(logits.argmax(1)[0])


def test_predict_with_onnx_gives_the_checkpoints_files_and_a_deployer_the_same_labels(
    cnn_and_unet: dict, tmp_path: Path
) -> None:
    exported = cnn_and_unet
    segmenter = exported["name"] in SEGMENTERS
    inputs = tmp_path / "in"
    if segmenter:
        write_scenes(inputs, [(32, 40), (45, 37), (17, 61)], [".png", ".jpg", ".png"])
    else:
        write_digits(inputs, 12)
    common = [f"ckpt_path={exported['ckpt']}", f"input={inputs}", "overlay=true"]
    run_cli("predict", *common, f"output={tmp_path / 'torch'}")
    run_cli("predict", *common, "backend=onnx", f"onnx_path={exported['folder'] / 'model.onnx'}",
            f"output={tmp_path / 'onnx'}")  # fmt: skip
    if segmenter:  # the same files, byte for byte
        written = sorted(p.relative_to(tmp_path / "torch") for p in (tmp_path / "torch").rglob("*.png"))
        assert len(written) == 6  # 3 masks, 3 overlays
        for path in written:
            assert (tmp_path / "torch" / path).read_bytes() == (tmp_path / "onnx" / path).read_bytes()
        return
    torch_rows, onnx_rows = (_rows(tmp_path / kind) for kind in ("torch", "onnx"))
    for mine, theirs in zip(torch_rows, onnx_rows, strict=True):  # the same labels; probabilities to the last digit
        assert {k: v for k, v in mine.items() if "probability" not in k} == {
            k: v for k, v in theirs.items() if "probability" not in k
        }
        for key in (k for k in mine if "probability" in k):
            assert float(mine[key]) == pytest.approx(float(theirs[key]), abs=1.01e-6)
    names = exported["card"]["class_names"]
    assert [names[deploy(exported["folder"], Path(row["path"]))] for row in torch_rows] == [
        row["label"] for row in torch_rows
    ]


def _rows(folder: Path) -> list[dict[str, str]]:
    import csv

    with open(folder / "predictions.csv", newline="") as file:
        return list(csv.DictReader(file))


def test_export_refuses_to_overwrite_and_unknown_formats(tmp_path_factory: pytest.TempPathFactory,
                                                         scenes: Path) -> None:  # fmt: skip
    exported = export_of("cnn", tmp_path_factory, scenes)
    ckpt, folder = exported["ckpt"], exported["folder"]
    before = (folder / "model.onnx").read_bytes()
    again = run_cli("export", f"ckpt_path={ckpt}", f"output={folder}", check=False)
    assert again.returncode == 1 and f"error: {folder / 'model.onnx'} exists; pass overwrite=true" in again.stderr
    assert (folder / "model.onnx").read_bytes() == before
    other = run_cli("export", f"ckpt_path={ckpt}", "format=tflite", f"output={folder}", check=False)
    assert "error: format must be one of ['onnx'], got 'tflite'" in other.stderr


def test_without_the_export_extra_the_command_names_it(tmp_path: Path) -> None:
    stub = tmp_path / "stub" / "onnxruntime"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('onnxruntime is not installed here')\n")
    (tmp_path / "run.ckpt").write_bytes(b"")
    result = run_cli("export", f"ckpt_path={tmp_path / 'run.ckpt'}", check=False,
                     env={"PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path / 'stub'}"})  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    expected = "error: ONNX needs the `export` extra (onnxruntime is not installed): pip install '.[export]'"
    assert expected in result.stderr
