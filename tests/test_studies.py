"""The accuracy the README promises, on the real Fashion-MNIST (`make test-slow`, minutes each).

Needs the dataset where the data module finds it (`apt-get install dataset-fashion-mnist`).
"""

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("overrides", "floor"),
    [([], 0.91), (["model=mlp"], 0.88), (["loss=dice"], 0.85)],
    ids=["default_cnn", "mlp", "cnn_dice"],
)
def test_fashion_mnist_test_accuracy(overrides: list[str], floor: float, tmp_path: Path) -> None:
    run_cli("train", *overrides, "callbacks.progress_bar.refresh_rate=0", f"hydra.run.dir={tmp_path}")
    accuracy = json.loads((tmp_path / "metrics.json").read_text())["test/acc"]
    assert accuracy >= floor, f"{overrides or 'defaults'}: test accuracy {accuracy:.4f} < {floor}"


def test_a_compiled_net_trains_to_the_accuracy_of_the_plain_one(tmp_path: Path) -> None:
    """torch.compile on the CPU (inductor with the machine's C++ compiler): minutes of compiling, so slow."""
    common = ["data=digits", "model=cnn", "trainer.max_epochs=3", "trainer.deterministic=true"]
    run_cli("train", *common, "task.compile=true", f"hydra.run.dir={tmp_path / 'compiled'}")
    run_cli("train", *common, f"hydra.run.dir={tmp_path / 'plain'}")
    compiled, plain = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("compiled", "plain"))
    assert compiled["test/acc"] == pytest.approx(plain["test/acc"], abs=0.03)
