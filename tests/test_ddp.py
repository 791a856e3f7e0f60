"""Several processes: each training sample once per epoch across ranks, exact test metrics, sweeps that refuse
what would re-run them, and bf16 autocast on the CPU."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from src.data import DigitsDataModule
from tests.conftest import run_cli

DDP_SWEEP = ["-m", "trainer=ddp_cpu", "data=digits", "debug=fdr", "trainer.devices=2"]


def digits_on_rank(rank: int, world: int = 2, batch_size: int = 16) -> DigitsDataModule:
    datamodule = DigitsDataModule(batch_size=batch_size, val_size=180, test_size=357, seed=0, num_classes=10,
                                  in_channels=1, image_size=[8, 8])  # fmt: skip
    datamodule.setup("fit")
    images, _ = datamodule.splits["train"].tensors  # 1,260 images: 39 full batches of 16 per rank, 12 left over
    datamodule.splits["train"].tensors = (images, torch.arange(len(images)))  # ids as labels
    datamodule.splits["test"].tensors = (datamodule.splits["test"].tensors[0], torch.arange(357))
    datamodule.trainer = SimpleNamespace(world_size=world, global_rank=rank, training=True)
    return datamodule


def ids(loader: torch.utils.data.DataLoader) -> list[int]:
    return [int(i) for _, labels in loader for i in labels]


def test_each_training_sample_is_seen_at_most_once_per_epoch_across_ranks() -> None:
    shares = [ids(digits_on_rank(rank).train_dataloader()) for rank in (0, 1)]
    seen = shares[0] + shares[1]
    assert len(shares[0]) == len(shares[1]) == 39 * 16  # every rank steps as often: no DDP hang
    assert len(set(seen)) == len(seen)  # no sample twice (Lightning's sampler would pad with repeats)
    assert len(seen) >= 1260 - 2 * 16  # only a last partial batch per rank is left out, as on one device


def test_each_test_sample_is_scored_exactly_once_across_ranks() -> None:
    shares = [ids(digits_on_rank(rank).test_dataloader()) for rank in (0, 1)]
    assert sorted(shares[0] + shares[1]) == list(range(357))  # an odd count: no padding, no repeats


def test_ddp_on_two_cpu_processes_writes_one_run_whose_test_metrics_equal_a_one_device_eval(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run_cli("train", "trainer=ddp_cpu", "data=digits", "model=mlp", "data.batch_size=32", "trainer.max_epochs=2",
            f"hydra.run.dir={run}")  # fmt: skip
    assert sorted(p.name for p in run.iterdir() if p.suffix != ".log") == [
        ".hydra", "checkpoints", "metrics.json", "status.json", "tensorboard"
    ]  # fmt: skip
    writers = {path.name.split(".")[-2] for path in (run / "tensorboard").glob("events.*")}  # the writers' pids
    assert len(writers) == 1  # rank 0 alone writes
    run_cli("eval", f"ckpt_path={run / 'checkpoints' / 'best.ckpt'}", f"hydra.run.dir={tmp_path / 'eval'}")
    trained = json.loads((run / "metrics.json").read_text())
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text()) == pytest.approx(trained, abs=1e-6)


def test_a_sweep_refuses_ddp_that_would_re_run_it(tmp_path: Path) -> None:
    result = run_cli("train", *DDP_SWEEP, "model=mlp", f"hydra.sweep.dir={tmp_path}", check=False)
    assert result.returncode == 1 and result.stderr.count("Launching") == 0
    assert "under -m would re-run the whole sweep; in a sweep use trainer.strategy=ddp_spawn" in result.stderr


@pytest.mark.slow  # three more interpreters start (the sweep's and two spawned processes): `make test-slow`
def test_a_sweep_runs_ddp_spawn_with_each_jobs_processes_its_own(tmp_path: Path) -> None:
    run_cli("train", *DDP_SWEEP, "model=mlp,cnn", "trainer.strategy=ddp_spawn", f"hydra.sweep.dir={tmp_path}")
    for job in ("0_model=mlp", "1_model=cnn"):
        assert json.loads((tmp_path / job / "status.json").read_text())["status"] == "completed"


def test_bf16_autocast_trains_on_the_cpu(tmp_path: Path) -> None:
    run_cli("train", "trainer.precision=bf16-mixed", "data=digits", "model=cnn", "trainer.max_epochs=2",
            f"hydra.run.dir={tmp_path}")  # fmt: skip
    assert json.loads((tmp_path / "metrics.json").read_text())["test/acc"] > 0.6
