"""Several processes: each training sample once per epoch across ranks, exact test metrics, a shuffle and random
generators of each rank's own that follow `seed` and survive a resume, sweeps that refuse what would re-run them,
and bf16 autocast on the CPU.

The DDP runs record what each process did (tests/probes.py `Record`), with the loaders Lightning set up.
"""

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from tests.conftest import run_cli
from tests.probes import fingerprint

DDP = ["trainer=ddp_cpu", "data=digits", "model=mlp", "data.batch_size=32", "data.test_size=357"]  # an odd count
DDP_SWEEP = ["-m", "trainer=ddp_cpu", "data=digits", "debug=fdr", "trainer.devices=2"]


def record(folder: Path) -> list[str]:
    return ["+callbacks.record._target_=tests.probes.Record", f"+callbacks.record.folder={folder}"]


def records(folder: Path, ranks: int = 2) -> list[dict]:
    return [json.loads((folder / f"rank{rank}.json").read_text()) for rank in range(ranks)]


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 epochs of the MLP on the digits in 2 CPU processes, seed 42; what each rank did in `<run>.record`."""
    run = tmp_path_factory.mktemp("ddp") / "run"
    run_cli("train", *DDP, "trainer.max_epochs=2", *record(run.with_suffix(".record")), f"hydra.run.dir={run}")
    return run


def test_each_training_sample_is_seen_at_most_once_per_epoch_across_ranks(ddp_run: Path) -> None:
    ranks = records(ddp_run.with_suffix(".record"))
    assert all(rank["distributed"] for rank in ranks)
    for epoch in (0, 1):
        batches = [rank["train_ids"][epoch] for rank in ranks]
        assert len(batches[0]) == len(batches[1]) == 19  # 1,257 images, 628 a rank: every rank steps as often
        seen = [index for share in batches for batch in share for index in batch]
        assert len(set(seen)) == len(seen) == 2 * 19 * 32  # no sample twice (Lightning's sampler pads with repeats)
    assert ranks[0]["train_ids"][0] != ranks[0]["train_ids"][1]  # a fresh shuffle every epoch


def test_each_test_sample_is_scored_exactly_once_across_ranks(ddp_run: Path) -> None:
    ranks = records(ddp_run.with_suffix(".record"))
    shares = [[index for batch in rank["test_ids"] for index in batch] for rank in ranks]
    assert sorted(shares[0] + shares[1]) == list(range(357))  # an odd count: no padding, no repeats


def test_ddp_on_two_cpu_processes_writes_one_run_whose_test_metrics_equal_a_one_device_eval(
    ddp_run: Path, tmp_path: Path
) -> None:
    assert sorted(p.name for p in ddp_run.iterdir() if p.suffix != ".log") == [
        ".hydra", "checkpoints", "metrics.json", "status.json", "tensorboard"
    ]  # fmt: skip
    writers = {path.name.split(".")[-2] for path in (ddp_run / "tensorboard").glob("events.*")}  # the writers' pids
    assert len(writers) == 1  # rank 0 alone writes
    run_cli("eval", f"ckpt_path={ddp_run / 'checkpoints' / 'best.ckpt'}", f"hydra.run.dir={tmp_path / 'eval'}")
    trained = json.loads((ddp_run / "metrics.json").read_text())
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text()) == pytest.approx(trained, abs=1e-6)


def test_ddp_ranks_keep_generators_of_their_own_through_a_resume(ddp_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(ddp_run, run)  # the module's run stays as the other tests read it
    saved = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["rng_states"]
    assert len(saved) == 2 and fingerprint(saved[0]["torch"]) != fingerprint(saved[1]["torch"])  # drawn apart
    run_cli("train", f"resume={run}", "trainer.max_epochs=3", f"callbacks.record.folder={tmp_path / 'resumed'}")
    resumed = records(tmp_path / "resumed")
    assert resumed[0]["rng_after_restore"] != resumed[1]["rng_after_restore"]  # not every rank rank 0's state
    # A moved run resumes where it is now, not where its saved config says it was written.
    epochs = [torch.load(r / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] for r in (run, ddp_run)]
    assert epochs == [2, 1]


def test_the_one_device_shuffle_follows_seed(tmp_path: Path) -> None:
    def first_labels(seed: int) -> list[int]:
        folder = tmp_path / str(seed)
        run_cli("train", "data=digits", "model=mlp", "debug=fdr", f"seed={seed}", *record(folder),
                f"hydra.run.dir={folder / 'run'}")  # fmt: skip
        return records(folder, ranks=1)[0]["first_labels"]

    assert first_labels(1) != first_labels(2)


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
    result = run_cli("train", "trainer.precision=bf16-mixed", "data=digits", "model=mlp", "trainer.max_epochs=2",
                     *record(tmp_path / "record"), f"hydra.run.dir={tmp_path / 'run'}")  # fmt: skip
    assert records(tmp_path / "record", ranks=1)[0]["logits_dtypes"] == ["torch.bfloat16"]  # autocast ran
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test/acc"] > 0.6
    # torch computes bf16 natively with AVX-512 (BW, VL, DQ); elsewhere (AVX2) the run warns that it is slow
    assert ("warning: this CPU" in result.stderr) == (not cpu_computes_bf16())


def cpu_computes_bf16() -> bool:
    """From the kernel's CPU flags, not torch's check that the warning uses."""
    flags = re.search(r"^flags\s*:(.*)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    return flags is not None and {"avx512bw", "avx512vl", "avx512dq"} <= set(flags.group(1).split())


def test_bf16_on_a_cpu_without_bf16_units_says_to_use_fp32(tmp_path: Path) -> None:
    fake = ["+callbacks.cpu._target_=tests.probes.CpuWithoutBf16", "data=digits", "model=mlp", "debug=fdr"]
    result = run_cli("train", *fake, "trainer.precision=bf16-mixed", f"hydra.run.dir={tmp_path / 'bf16'}")
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: this CPU (AVX2) has no bf16 units, so trainer.precision=bf16-mixed trains several times slower "
        "than fp32 here (7.9x per step on an AVX2 CPU); use trainer.precision=32-true"
    ]
    assert "warning:" not in run_cli("train", *fake, f"hydra.run.dir={tmp_path / 'fp32'}").stderr
