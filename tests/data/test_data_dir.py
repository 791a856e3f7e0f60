"""Where the (Fashion-)MNIST files are looked for, through the real CLI: a data.data_dir the user sets is searched
alone (no silent fallback to another copy); without one, paths.data_dir and then the system's copy."""

import json
from pathlib import Path

import pytest

from src.data import FashionMNISTDataModule
from tests.conftest import run_cli, write_mnist_like

SYSTEM_COPY = Path(FashionMNISTDataModule.system_dir)
# Every data config built on the IDX files, and the folder name of torchvision's layout it also looks in.
IDX_DATA = {
    "fashion_mnist": "FashionMNIST", "fashion_mnist_binarized": "FashionMNIST", "fashion_seg": "FashionMNIST",
    "fashion_seg_binary": "FashionMNIST", "fashion_multilabel": "FashionMNIST", "fashion_boxes": "FashionMNIST",
    "mnist": "MNIST", "mnist_binarized": "MNIST",
}  # fmt: skip
# One short epoch; tests.probes.Record writes the test batches' sample indices.
SHORT = [
    "model=mlp", "model.hidden_sizes=[16]", "scheduler=none", "trainer.max_epochs=1", "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1", "trainer.limit_test_batches=1", "~callbacks.images",
]  # fmt: skip


def samples_tested(tmp_path: Path, *overrides: str) -> int:
    """Train with `overrides`; how many samples the run's test loader holds."""
    record = ["+callbacks.record._target_=tests.probes.Record", f"+callbacks.record.folder={tmp_path / 'record'}"]
    run_cli("train", *SHORT, *record, *overrides, f"hydra.run.dir={tmp_path / 'run'}")
    test_ids = json.loads((tmp_path / "record" / "rank0.json").read_text())["test_ids"]
    return sum(len(batch) for batch in test_ids)


@pytest.mark.parametrize("data", IDX_DATA)
def test_an_explicit_data_dir_without_the_files_is_refused_naming_it(data: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("train", f"data={data}", f"data.data_dir={empty}", f"hydra.run.dir={tmp_path / 'run'}",
                     check=False)  # fmt: skip
    name = IDX_DATA[data]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert f"{name} files not found (looked in: {empty}, {empty / name / 'raw'});" in errors[0]
    assert "searched alone" in errors[0] and "drop data.data_dir" in errors[0]


@pytest.mark.parametrize("layout", [".", "FashionMNIST/raw"])
def test_an_explicit_data_dir_with_the_files_trains_on_them(layout: str, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    write_mnist_like(mine / layout, n_train=300, n_test=70)
    # paths.data_dir holds another copy: data.data_dir wins over it, as over the system's.
    other = write_mnist_like(tmp_path / "other", n_test=40)
    overrides = ["data=fashion_mnist", f"data.data_dir={mine}", f"paths.data_dir={other}", "data.val_size=50"]
    assert samples_tested(tmp_path, *overrides) == 70


def test_without_data_dir_paths_data_dir_comes_first(tmp_path: Path) -> None:
    default = write_mnist_like(tmp_path / "default" / "FashionMNIST" / "raw", n_test=40).parents[1]
    assert samples_tested(tmp_path, "data=fashion_mnist", f"paths.data_dir={default}", "data.val_size=50") == 40


def test_without_data_dir_the_system_copy_is_found(tmp_path: Path) -> None:
    assert SYSTEM_COPY.is_dir(), "make install brings Debian's dataset-fashion-mnist (make data)"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert samples_tested(tmp_path, "data=fashion_mnist", f"paths.data_dir={empty}") == 10_000
