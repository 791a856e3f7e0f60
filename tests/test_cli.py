"""The real command line, in fresh processes: train, multirun, eval, and the errors users meet."""

import json
from pathlib import Path

import pytest
import torch
from hydra.errors import InstantiationException

from src.losses import CCELoss
from src.models import MLP
from src.run.checkpoints import load_checkpoint
from src.run.errors import report_errors
from src.tasks import ClassificationTask
from tests.conftest import run_cli, write_cifar10, write_mnist_like


def test_fast_dev_run_every_model_on_every_idx_dataset(tmp_path: Path) -> None:
    data_dir = write_mnist_like(tmp_path / "data")
    run_cli("train", "-m", "model=mlp,cnn", "data=digits,mnist,fashion_mnist", "debug=fdr", "data.val_size=50",
            f"paths.data_dir={data_dir}", f"hydra.sweep.dir={tmp_path / 'sweep'}")  # fmt: skip
    runs = sorted((tmp_path / "sweep").glob("*/metrics.json"))
    assert len(runs) == 6
    for metrics in runs:
        assert {"test/acc", "test/f1", "test/loss"} <= set(json.loads(metrics.read_text()))


def test_fast_dev_run_every_model_on_cifar10(tmp_path: Path) -> None:
    data_dir = write_cifar10(tmp_path / "data")
    run_cli("train", "-m", "model=mlp,cnn", "data=cifar10", "data.verify_checksums=false", "debug=fdr",
            "data.val_size=50", f"paths.data_dir={data_dir}", f"hydra.sweep.dir={tmp_path / 'sweep'}")  # fmt: skip
    assert len(list((tmp_path / "sweep").glob("*/metrics.json"))) == 2


def test_every_experiment_runs(tmp_path: Path) -> None:
    # transfer_check needs one's own folder: tests/test_transfer_check.py runs it on one.
    folder = Path(__file__).parents[1] / "conf" / "experiment"
    experiments = sorted(p.stem for p in folder.glob("*.yaml") if p.stem != "transfer_check")
    # Batches of 8: the VAEs' importance-weighted test bound decodes every test image hundreds of times.
    run_cli("train", "-m", f"experiment={','.join(experiments)}", "debug=fdr", "data.batch_size=8",
            f"hydra.sweep.dir={tmp_path}")  # fmt: skip
    assert len(list(tmp_path.glob("*/metrics.json"))) == len(experiments)


ERRORS = {
    "unknown option": (["model=transformer"], "Could not find 'model/transformer'"),
    "unknown key": (["model.kernel=5"], "Could not override 'model.kernel'"),
    "missing data": (
        ["data=mnist", "data.data_dir=/nonexistent"],
        "MNIST files not found (looked in: /nonexistent",
    ),
    "wrong channels": (
        ["data=digits", "model.in_channels=3"],
        "model=cnn cannot take the images of data=digits (1, 8, 8)",
    ),
}


@pytest.mark.parametrize("case", ERRORS)
def test_bad_input_is_one_clear_line_without_traceback(case: str, tmp_path: Path) -> None:
    overrides, message = ERRORS[case]
    result = run_cli("train", *overrides, "debug=fdr", f"hydra.run.dir={tmp_path}", check=False)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("ckpt", "message"),
    [(None, "ckpt_path is required"), ("/nonexistent.ckpt", "ckpt_path=/nonexistent.ckpt does not exist")],
)
def test_eval_without_a_valid_checkpoint_fails_clearly(ckpt: str | None, message: str, tmp_path: Path) -> None:
    overrides = [f"ckpt_path={ckpt}"] if ckpt else []
    result = run_cli("eval", *overrides, f"hydra.run.dir={tmp_path}", check=False)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_corrupt_checkpoint_fails_clearly(tmp_path: Path) -> None:
    ckpt = tmp_path / "broken.ckpt"
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"broken\.ckpt is not a readable Lightning checkpoint"):
        load_checkpoint(ckpt, ClassificationTask(MLP(1, (8, 8), 10), CCELoss(), optimizer=None, num_classes=10))


def test_errors_raised_inside_a_configs_target_are_reported_by_their_cause(capsys: pytest.CaptureFixture) -> None:
    @report_errors
    def main(cfg: object) -> None:
        raise InstantiationException("Error in call to target 'x'") from ValueError("data.batch_size must be > 0")

    with pytest.raises(SystemExit) as exit_:
        main(None)
    assert exit_.value.code == 1
    assert capsys.readouterr().err.startswith("error: data.batch_size must be > 0 (HYDRA_FULL_ERROR=1")


def test_a_message_that_starts_with_a_newline_is_reported_by_its_first_words(capsys: pytest.CaptureFixture) -> None:
    @report_errors
    def main(cfg: object) -> None:
        raise ValueError("\n you tried to log None which is currently not supported.")  # Lightning's own words

    with pytest.raises(SystemExit):
        main(None)
    assert capsys.readouterr().err.startswith("error: you tried to log None which is currently not supported.")


def test_programming_errors_keep_their_traceback() -> None:
    @report_errors
    def main(cfg: object) -> None:
        raise KeyError("a bug, not a user's mistake")

    with pytest.raises(KeyError):
        main(None)


def test_out_of_memory_on_a_gpu_gives_a_hint_not_a_cuda_trace(capsys: pytest.CaptureFixture) -> None:
    @report_errors
    def main(cfg: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 79.10 GiB total)")

    with pytest.raises(SystemExit) as exit_:
        main(None)
    assert exit_.value.code == 1
    assert capsys.readouterr().err.startswith(
        "error: out of memory on the GPU; lower data.batch_size, use trainer.precision=16-mixed (bf16"
    )
