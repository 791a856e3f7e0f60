"""The catalogue of mistakes: each is refused by the real CLI with a non-zero exit, one line that names the
problem and the fix, no traceback, and nothing already written lost or half-written.

The cases share one workspace (a finished run, damaged files, foreign checkpoints) whose every file is
compared before and after each case.
"""

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pyarrow
import pyarrow.parquet
import pytest
import torch

from tests.conftest import run_cli, save_mask, write_mnist_like, write_segmentation_folder

QUICK = ["data=digits", "model=mlp", "model.hidden_sizes=[16]", "trainer.max_epochs=1", "~callbacks.images"]


class RunsCode:
    """A pickle that runs code when loaded: what weights_only loading must refuse."""

    def __reduce__(self) -> tuple:
        return (print, ("this checkpoint ran code",))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("workspace")
    run_cli("train", *QUICK, f"hydra.run.dir={root / 'run'}")
    damaged = write_mnist_like(root / "damaged_idx", compress=False)
    (damaged / "train-images-idx3-ubyte").write_bytes((damaged / "train-images-idx3-ubyte").read_bytes()[:999])
    write_segmentation_folder(root / "bad_mask")
    save_mask(root / "bad_mask" / "train" / "masks" / "004.png", np.full((40, 48), 7, np.uint8))
    write_segmentation_folder(root / "no_mask")
    (root / "no_mask" / "train" / "masks" / "005.png").unlink()
    (root / "garbage.ckpt").write_bytes(b"not a checkpoint")
    pyarrow.parquet.write_table(pyarrow.table({"a": [1.0, 2.0], "b": ["red", "blue"], "y": [3, 4]}), root / "t.parquet")
    (root / "code.ckpt").write_bytes(pickle.dumps({"state_dict": RunsCode()}))
    return root


FOLDER = ["data=folder", "data.class_names=[a,b,c]", "data.image_size=[40,48]", "data.test_size=2", "data.val_size=2"]
CASES: dict[str, tuple[str, list[str], str]] = {
    # Hydra's own messages for unknown groups, options and keys.
    "unknown option": ("train", ["model=transformer"], "Could not find 'model/transformer'"),
    "unknown key": ("train", ["model.kernel=5"], "Could not override 'model.kernel'"),
    "unknown target": ("train", [*QUICK, "+callbacks.x._target_=nowhere.Thing"], "Error locating target 'nowhere.Thing'"),
    # Values of the wrong type or out of range, before torch loads.
    "epochs not a number": ("train", ["trainer.max_epochs=abc"], "trainer.max_epochs must be an integer or null, got 'abc'"),
    "seed not a number": ("train", ["seed=abc"], "seed must be an integer, got 'abc'"),
    "learning rate not a number": ("train", ["optimizer.lr=abc"], "optimizer.lr must be a number > 0, got 'abc'"),
    "ignore index not a number": ("train", ["loss.ignore_index=abc"], "loss.ignore_index must be an integer or null, got 'abc'"),
    "padding by an unknown name": ("train", ["model.paddings=valid"], "model.paddings must be 'same', an integer or a list of ('same' or integers), got 'valid'"),
    "negative padding": ("train", ["data=digits", "model.paddings=[1,-1,1]"], "model.paddings must be 'same' or an integer >= 0 (per layer), got -1"),
    "unknown pooling in a list": ("train", ["model.pool=[max,median,max]"], "model.pool must be 'max', 'avg', a list of ('max', 'avg' or null) or null, got ['max', 'median', 'max']"),
    "negative learning rate": ("train", ["optimizer.lr=-1"], "optimizer.lr must be > 0, got -1"),
    "zero learning rate": ("train", ["optimizer.lr=0"], "optimizer.lr must be > 0, got 0"),
    "zero epochs": ("train", ["trainer.max_epochs=0"], "trainer.max_epochs must be >= 1, or -1 for no limit, got 0"),
    "zero batch size": ("train", ["data.batch_size=0"], "data.batch_size must be >= 1, got 0"),
    "dropout of one": ("train", ["model.dropout=1.0"], "model.dropout must be in [0, 1), got 1.0"),
    "test not a boolean": ("train", ["test=maybe"], "test must be true or false, got 'maybe'"),
    "momentum out of range": ("train", ["optimizer=sgd", "optimizer.momentum=1.5"], "optimizer.momentum must be in [0, 1), got 1.5"),
    "unwritable output": ("train", ["hydra.run.dir=/proc/forbidden/run"], "hydra.run.dir=/proc/forbidden/run cannot be created"),
    # Choices that do not fit each other, before any data loads.
    "classifier on masks": ("train", ["model=mlp", "data=fashion_seg"], "model=mlp outputs (11,) per sample, but the segmentation task of data=fashion_seg needs (11, 64, 64)"),
    "segmenter on labels": ("train", ["model=unet", "data=digits"], "model=unet outputs (10, 8, 8) per sample, but the classification task of data=digits needs (10,)"),
    "loss that cannot score": ("train", ["data=fashion_seg_binary", "model.num_classes=1", "loss=cce"], "loss=cce cannot train the segmentation task of data=fashion_seg_binary: cce: softmax needs C >= 2"),
    "segmentation loss on a regression": ("train", ["data=diabetes", "loss=dice"], "loss=dice cannot train the regression task of data=diabetes: it does not score real values"),
    "cce on one logit": ("train", ["data=breast_cancer", "loss=cce"], "loss=cce cannot train the binary task of data=breast_cancer: cce: softmax needs C >= 2"),
    "mirror average on masks": ("train", ["data=fashion_seg", "task.mirror_average=true"], "task.mirror_average=true averages an image with its mirror, which keeps the target of a classification, binary or multilabel task on images, not the segmentation task of data=fashion_seg; leave it false"),
    "regression net with the wrong outputs": ("train", ["data=diabetes", "model.num_classes=3"], "model=mlp outputs (3,) per sample, but the regression task of data=diabetes needs (1,)"),
    "binary net with two outputs": ("train", ["data=breast_cancer", "model.num_classes=2"], "model=mlp outputs (2,) per sample, but the binary task of data=breast_cancer needs (1,); choose a binary model, or give the net one output"),
    "convolutions on a table": ("train", ["data=wine", "model=cnn"], "model=cnn needs data.in_channels, which data=wine does not have"),
    "a fold that does not exist": ("train", ["data=wine", "data.fold=5"], "data.fold must be one of 0..4 (data.folds=5), got 5"),
    "a table file that does not exist": ("train", ["data=table", "data.path=/nonexistent.csv", "data.target=y"], "data.path=/nonexistent.csv does not exist"),
    "text target of a regression": ("train", ["data=table", "data.path={workspace}/t.parquet", "data.target=b", "task=regression"], "t.parquet column 'b' holds text ('red', row 1), which task=regression cannot learn: its values are classes; use task=classification"),
    "task against the data": ("train", ["data=fashion_seg", "task=classification"], "data=fashion_seg is segmentation data but task=classification trains classification"),
    "wrong channels": ("train", ["data=digits", "model.in_channels=3"], "model=cnn cannot take the images of data=digits (1, 8, 8)"),
    "bad pooling": ("train", ["data=digits", "model.pool=median"], "model.pool must be 'max', 'avg', a list of ('max', 'avg' or null) or null, got 'median'"),
    "more cpu devices than cores": ("train", [*QUICK, "trainer.accelerator=cpu", "trainer.devices=64"], "trainer.devices=64 asks for 64 CPU processes"),
    "a gpu that is not there": ("train", [*QUICK, "trainer.accelerator=gpu"], "the trainer cannot start with trainer.accelerator=gpu, trainer.devices=1, trainer.precision=32-true: No supported gpu backend found!; trainer=cpu runs anywhere"),
    "unknown precision": ("train", [*QUICK, "trainer.precision=bf17"], "trainer.precision must be 64, 32, 16, 'transformer-engine'"),
    "class subset that does not exist": ("train", [*QUICK, "data.classes=[8,10]"], "data.classes has class 10, which does not exist; valid: 0..9"),
    "no training data left": ("train", [*QUICK, "data.train_fraction=0"], "data.train_fraction must be in (0, 1], got 0"),
    # Data on disk that is missing or damaged.
    "missing data": ("train", ["data=mnist", "data.data_dir=/nonexistent"], "MNIST files not found (looked in: /nonexistent"),
    "truncated idx file": ("train", ["data=mnist", "data.data_dir={workspace}/damaged_idx"], "train-images-idx3-ubyte is truncated or damaged"),
    "mask value out of range": ("train", [*FOLDER, "data.data_dir={workspace}/bad_mask"], "bad_mask/train/masks/004.png has the pixel value 7"),
    "image without a mask": ("train", [*FOLDER, "data.data_dir={workspace}/no_mask"], "no mask for {workspace}/no_mask/train/images/005.png"),
    "validation larger than the data": ("train", [*QUICK, "data.val_size=5000"], "data.val_size=5000 leaves no training samples"),
    # Checkpoints and runs.
    "eval without a checkpoint": ("eval", [], "ckpt_path is required"),
    "eval of a missing checkpoint": ("eval", ["ckpt_path=/nonexistent.ckpt"], "ckpt_path=/nonexistent.ckpt does not exist"),
    "eval of a damaged checkpoint": ("eval", [*QUICK, "ckpt_path={workspace}/garbage.ckpt"], "garbage.ckpt is not a readable Lightning checkpoint"),
    "eval of a checkpoint that runs code": ("eval", [*QUICK, "ckpt_path={workspace}/code.ckpt"], "code.ckpt is not a readable Lightning checkpoint (UnpicklingError"),
    "eval of another model's checkpoint": ("eval", ["ckpt_path={workspace}/run/checkpoints/best.ckpt", "model.hidden_sizes=[8]"], "does not fit this model: net.backbone.1.weight is shaped (16, 64) in the checkpoint, (8, 64) here"),
    "resume of no run": ("train", ["resume={workspace}/nowhere"], "no run there"),
    "resume with another model": ("train", ["resume={workspace}/run", "model=cnn"], "resume keeps the run's own choices, so model=cnn cannot change"),
    "resume against the checkpoint": ("train", ["resume={workspace}/run", "model.hidden_sizes=[8]"], "does not fit this model"),
    # Runs that go wrong while training.
    "nan loss": ("train", [*QUICK, "optimizer.lr=1e30", "trainer.log_every_n_steps=1"], "the training loss is not finite since step"),
    "monitor that is never logged": ("train", [*QUICK, "monitor=val/nope"], "could not find the monitored key"),
    "disk full while saving": ("train", [*QUICK, "trainer.max_epochs=2", "+callbacks.full._target_=tests.crash.FullDiskAtSave", "+callbacks.full.save=2"], "(No space left on device); the previous checkpoint there is intact"),
    "data_dir without the files": ("train", ["data=fashion_mnist", "data.data_dir={workspace}/run"], "FashionMNIST files not found (looked in: {workspace}/run, {workspace}/run/FashionMNIST/raw); a data.data_dir you set is searched alone"),
    "validation larger than a table": ("train", ["data=diabetes", "data.val_size=400"], "data.val_size=400 leaves no training rows: 353 of the table's 442 rows are outside the test fold (data.folds=5)"),
}  # fmt: skip


def fingerprint(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).digest() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case", CASES)
def test_a_mistake_is_one_clear_line_and_loses_nothing(case: str, workspace: Path, tmp_path: Path) -> None:
    module, args, message = CASES[case]
    args = [arg.format(workspace=workspace) for arg in args]
    before = fingerprint(workspace)
    result = run_cli(module, *args, f"hydra.run.dir={tmp_path / 'out'}", check=False)
    assert result.returncode == 1, result.stderr
    assert message.format(workspace=workspace) in result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) <= 1 and (errors or "Could not" in result.stderr or "Error locating" in result.stderr)
    after = fingerprint(workspace)
    changed = {name for name, digest in before.items() if after.get(name) != digest and not name.endswith(".log")}
    assert not changed, f"{case} changed {changed}"


def test_a_full_disk_keeps_the_last_whole_checkpoint(tmp_path: Path) -> None:
    run_cli("train", *QUICK, "trainer.max_epochs=2", "+callbacks.full._target_=tests.crash.FullDiskAtSave",
            "+callbacks.full.save=3", f"hydra.run.dir={tmp_path}", check=False)  # fmt: skip
    # Saves 1 and 2 (best and last of epoch 1) are whole; epoch 2's failed half way and left no .tmp behind.
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["epoch"] == 0 and not list((tmp_path / "checkpoints").glob("*.tmp"))
    assert '"status": "failed"' in (tmp_path / "status.json").read_text()


def test_a_non_finite_loss_never_reaches_a_checkpoint(tmp_path: Path) -> None:
    # Weights NaN from step 19 + 3 = 22 on, and the next check at the logging cadence (step 49) comes after epoch
    # 2's save of last.ckpt (written after every validation).
    nan = ["+callbacks.nan._target_=tests.probes.NonFiniteFrom", "+callbacks.nan.epoch=1", "+callbacks.nan.batch=3"]
    result = run_cli("train", *QUICK, "trainer.max_epochs=2", *nan, f"hydra.run.dir={tmp_path}", check=False)
    assert result.returncode == 1 and "error: the training loss is not finite since step 22" in result.stderr
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["epoch"] == 0  # epoch 1's own checkpoint
    assert all(torch.isfinite(weights).all() for weights in checkpoint["state_dict"].values())
    assert [path.name for path in (tmp_path / "checkpoints").iterdir()] == ["best.ckpt", "last.ckpt"]
