"""Transfer learning through the real command line: the pair in one multirun, each half alone, a gradual run
killed after unfreezing and resumed, a pretrained backbone from a state dict, and the errors users meet.

In a file of its own: `make test` hands whole files to pytest-xdist workers, and the source run is shared.
"""

import json
from pathlib import Path

import pytest
import timm
import torch
import torchvision
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import run_cli

DIGITS = ["data=digits", "model=cnn", "model.channels=[8,16]", "model.hidden_size=16", "trainer.log_every_n_steps=5",
          "callbacks.progress_bar.refresh_rate=0", "~callbacks.images"]  # fmt: skip
LITE0_KEYS = (Path(__file__).parent / "models" / "efficientnet_lite0_keys.txt").read_text().split()


def accuracy(run: Path) -> float:
    return json.loads((run / "metrics.json").read_text())["test/acc"]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("source")
    run_cli("train", *DIGITS, "transfer=source", "trainer.max_epochs=3", f"hydra.run.dir={run}")
    return run / "checkpoints" / "best.ckpt"


def test_the_pair_trains_source_then_target_and_the_target_evaluates_and_resumes_alone(tmp_path: Path) -> None:
    # The documented command (experiment=transfer_pair), on the digits instead of Fashion-MNIST.
    run_cli("train", "-m", "experiment=transfer_pair", *DIGITS, "trainer.max_epochs=4", f"hydra.sweep.dir={tmp_path}")
    target = tmp_path / "finetune"
    assert accuracy(tmp_path / "source") > 0.6 and (target / "metrics.json").is_file()
    events = EventAccumulator(str(target / "tensorboard"))
    events.Reload()
    assert {"lr-AdamW/head", "lr-AdamW/backbone"} <= set(events.Tags()["scalars"])  # two parameter groups
    # The saved config names the source this sweep trained, not ${hydra:sweep.dir}, which resolves elsewhere later.
    saved = OmegaConf.load(target / ".hydra" / "config.yaml")
    assert saved.transfer.source_ckpt == str(tmp_path / "source" / "checkpoints" / "best.ckpt")
    # The target's own checkpoints hold its weights: neither eval nor resume needs the source file.
    (tmp_path / "source" / "checkpoints").rename(tmp_path / "source" / "moved")
    metrics = json.loads((target / "metrics.json").read_text())
    run_cli("eval", f"ckpt_path={target / 'checkpoints' / 'best.ckpt'}", f"hydra.run.dir={tmp_path / 'eval'}")
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text()) == metrics  # to the last digit
    run_cli("train", f"resume={target}")
    assert json.loads((target / "status.json").read_text())["status"] == "completed"
    assert json.loads((target / "metrics.json").read_text()) == metrics
    hydra = OmegaConf.load(target / ".hydra" / "resume" / "hydra.yaml").hydra  # the project's hydra settings
    assert {"sweep_summary", "resolved_config"} <= set(hydra.callbacks) and hydra.job.chdir is False


@pytest.mark.parametrize("strategy", ["freeze", "gradual", "scratch"])
def test_each_strategy_runs_alone_from_a_source_checkpoint(source: Path, strategy: str, tmp_path: Path) -> None:
    run_cli("train", *DIGITS, f"transfer={strategy}", f"transfer.source_ckpt={source}", "trainer.max_epochs=2",
            f"hydra.run.dir={tmp_path}")  # fmt: skip
    assert accuracy(tmp_path) > 0.2


def test_a_gradual_run_killed_after_unfreezing_resumes_to_the_run_never_stopped(source: Path, tmp_path: Path) -> None:
    run = [*DIGITS, "transfer=gradual", f"transfer.source_ckpt={source}", "transfer.freeze_epochs=1",
           "trainer.max_epochs=3", "trainer.deterministic=true"]  # fmt: skip
    run_cli("train", *run, f"hydra.run.dir={tmp_path / 'straight'}")
    kill = ["+callbacks.kill._target_=tests.crash.KillAtBatch", "+callbacks.kill.epoch=2", "+callbacks.kill.batch=3"]
    assert run_cli("train", *run, *kill, f"hydra.run.dir={tmp_path / 'killed'}", check=False).returncode == -9
    run_cli("train", f"resume={tmp_path / 'killed'}", "~callbacks.kill")  # Lightning #21901 would freeze it again
    assert accuracy(tmp_path / "killed") == accuracy(tmp_path / "straight")


def test_a_pretrained_backbone_from_a_state_dict_trains_on_grey_images(tmp_path: Path) -> None:
    # The package's Lite0 file format (lukemelas names), holding a random timm Lite0's tensors.
    state = timm.create_model("tf_efficientnet_lite0").state_dict()
    torch.save(dict(zip(LITE0_KEYS, state.values(), strict=True)), tmp_path / "lite0.pth")
    run_cli("train", "data=digits", "model=efficientnet_lite0", f"model.weights_path={tmp_path / 'lite0.pth'}",
            "model.input_size=32", "transfer=freeze", "trainer.max_epochs=1", "callbacks.progress_bar.refresh_rate=0",
            f"hydra.run.dir={tmp_path / 'run'}")  # fmt: skip
    assert (tmp_path / "run" / "metrics.json").is_file()


ERRORS = {
    "no source": (["transfer=finetune"], "transfer needs a source: transfer.source_ckpt=<source run>"),
    "missing source": (["transfer=freeze", "transfer.source_ckpt=/nope.ckpt"], "transfer.source_ckpt=/nope.ckpt does"),
    "other model": (["transfer=finetune", "model=mlp"], "does not fit this model: net.backbone.1.weight is missing"),
    "pretrained scratch": (["transfer=scratch", "model=resnet18", "model.weights_path=WEIGHTS"],
                           "transfer=scratch trains from random weights, but the model loads pretrained ones"),
}  # fmt: skip


@pytest.mark.parametrize("case", ERRORS)
def test_transfer_mistakes_are_one_clear_line(case: str, source: Path, tmp_path: Path) -> None:
    overrides, message = ERRORS[case]
    if "model.weights_path=WEIGHTS" in overrides:
        torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "resnet18.pth")
    overrides = [o.replace("WEIGHTS", str(tmp_path / "resnet18.pth")) for o in overrides]
    if case == "other model":
        overrides.append(f"transfer.source_ckpt={source}")
    result = run_cli("train", "data=digits", *overrides, "trainer.max_epochs=1", f"hydra.run.dir={tmp_path / 'run'}",
                     check=False)  # fmt: skip
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
