"""Every option form the manual and the config files document passes the config check, and the forms of the
per-layer and Trainer options train through the real CLI.

The documented forms are read from the documents themselves: every `python -m src.train|eval ...` command of
README.md and of the config files' comments (each value of a sweep), and every choice a config comment lists
(`pool: max  # max | avg | null`), in a list of one per layer where the comment says it takes one. A newly
documented command or choice is tested without being listed here; a newly documented per-layer key fails
`test_every_per_layer_key_trains_in_both_forms` until FORMS trains it as one value and as a list.
"""

import copy
import functools
import itertools
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationKeyError

from src.run.build import build
from src.run.config_check import check_config
from src.run.errors import _message
from src.run.task_choice import task_arguments
from tests.conftest import CONF, ROOT, compose_config, run_cli, write_mnist_like
from tests.image_folders import write_class_folders, write_labels_file

DOCUMENTS = [ROOT / "README.md", *sorted(CONF.rglob("*.yaml"))]
COMMAND = re.compile(r"(\$ )?python -m src\.(train|eval)\b([^`#\n]*)")
PLACEHOLDERS = {"group=option", "key=value"}  # the synopsis `[group=option ...] [key=value ...]`
SEGMENTATION_MODELS = {"unet", "cnn_fpn", "timm_fpn"}
ERROR_SUFFIX = " (HYDRA_FULL_ERROR=1 shows the traceback)"


def _overrides(arguments: str) -> list[str]:
    """The key=value and ~key tokens of a documented command; <placeholders> become a path."""
    tokens = [_unbracketed(token) for token in shlex.split(re.sub(r"<[^>]*>", "RUN", arguments))]
    return [t for t in tokens if ("=" in t or t.startswith("~")) and t not in PLACEHOLDERS]


def _unbracketed(token: str) -> str:
    """`[hydra.sweeper.n_trials=30]` (an optional part of a synopsis) -> the override; lists stay lists."""
    token = token.removeprefix("[")
    return token[:-1] if token.count("]") > token.count("[") else token


def _each_sweep_value(overrides: list[str]) -> list[list[str]]:
    """One command per value of every sweep (model=mlp,cnn), the other sweeps at their first value."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    values = [[f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()] if o.is_sweep_override()
              else [o.input_line] for o in parsed]  # fmt: skip
    firsts = [choices[0] for choices in values]
    commands = [firsts]
    for i, choices in enumerate(values):
        commands += [[*firsts[:i], choice, *firsts[i + 1 :]] for choice in choices[1:]]
    return commands


def documented_commands() -> dict[str, tuple[str, list[str], str | None]]:
    """{id: (module, overrides, the error line shown under it or None)} for every documented command."""
    commands = {}
    for path in DOCUMENTS:
        lines = path.read_text().replace("\\\n", " ").splitlines()
        for number, line in enumerate(lines):
            for match in COMMAND.finditer(line):
                overrides = _overrides(match[3])
                if any(o.startswith("resume=") for o in overrides):
                    continue  # needs a run: tests/test_transfer_cli.py and test_bad_input.py resume real ones
                following = lines[number + 1] if number + 1 < len(lines) else ""
                error = following.removeprefix("error: ").removesuffix(ERROR_SUFFIX) if match[1] else None
                for each in _each_sweep_value(overrides):
                    command = (match[2], each, error if following.startswith("error: ") else None)
                    if command not in commands.values():  # the same command twice is tested once
                        commands[f"{path.relative_to(ROOT)}:{number + 1}:{match[2]} {' '.join(each)}"] = command
    return commands


def _commented_keys(path: Path) -> list[tuple[str, str, str]]:
    """(dotted key, default, comment) of every `key: value  # comment` line of a YAML file."""
    stack: list[tuple[int, str]] = []
    found = []
    for line in path.read_text().splitlines():
        match = re.match(r"^( *)(\w+):([^#]*)(?:#\s*(.*))?$", line)
        if not match:
            continue
        indent = len(match[1])
        stack = [(i, key) for i, key in stack if i < indent] + [(indent, match[2])]
        if match[4]:
            found.append((".".join(key for _, key in stack), match[3].strip(), match[4]))
    return found


def documented_choices() -> dict[str, list[str]]:
    """{option: overrides}: each choice a model or loss config's comment lists (`a | b | c`), and for a key
    whose comment says "one per layer" (or level) a list of them (or of its default), one per layer."""
    forms: dict[str, list[str]] = {}
    for group in ("model", "loss"):
        for path in sorted((CONF / group).glob("*.yaml")):
            option = f"{group}={path.stem}"
            for key, default, comment in _commented_keys(path):
                choices = [re.match(r"\s*([\w-]+)", part)[1] for part in comment.split("|")] if " | " in comment else []
                forms.setdefault(option, []).extend(f"{group}.{key}={choice}" for choice in choices)
                if re.search(r"one per (layer|level)", comment):
                    layers = len(
                        OmegaConf.select(
                            compose_config("train", *_data(option)), f"{group}.{key}".rsplit(".", 1)[0] + ".channels"
                        )
                    )
                    per_layer = itertools.islice(itertools.cycle(choices or [default]), layers)
                    forms[option].append(f"{group}.{key}=[{','.join(per_layer)}]")
    return {option: overrides for option, overrides in forms.items() if overrides}


def _data(option: str) -> list[str]:
    """The option with the data it needs: a net that outputs a class per pixel trains on segmentation data."""
    return [option, "data=fashion_seg"] if option.split("=")[1] in SEGMENTATION_MODELS else [option]


def checked(module: str, overrides: list[str], tmp_path: Path, *then: str) -> DictConfig:
    """The config `python -m src.<module> overrides then` composes, after the check the entry point runs on it.

    `then`: plain key=value overrides applied to the composed config (saving a composition per value).
    """
    extra = (
        ["ckpt_path=RUN.ckpt"] if module == "eval" and not any(o.startswith("ckpt_path=") for o in overrides) else []
    )
    if module == "eval" and any(o.startswith("callbacks.fid.") for o in overrides):
        # src.eval composes the checkpoint's own run first (eval_arguments): a VAE run's data brings callbacks.fid.
        extra.insert(0, "data=fashion_mnist_binarized")
    if module == "train":  # as src.train's command line is: the task the data's files call for, when none is named
        overrides = task_arguments(["train", *overrides])[1:]
    cfg = copy.deepcopy(_composed(module, (*overrides, *extra, f"paths.output_dir={tmp_path}")))
    for override in OverridesParser.create().parse_overrides(list(then)):
        OmegaConf.update(cfg, override.key_or_group, override.value(), merge=False)
    cfg.hydra.overrides.task.extend(then)
    HydraConfig.instance().set_config(cfg)  # as @hydra.main does: the check reads the command line from it
    task = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
    check_config(task)
    return task


@functools.cache
def _composed(module: str, overrides: tuple[str, ...]) -> DictConfig:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose(module, list(overrides), return_hydra_config=True)


@pytest.fixture
def hydra_config() -> None:
    yield
    HydraConfig.instance().cfg = None  # other tests build outside an application, as the tests of build do


COMMANDS = documented_commands()


@pytest.fixture(scope="module")
def own_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the documents' own-data commands name (houses.csv, photos/, DIR/, labels.csv), written for real:
    those commands read their classes, channels, size and features from them before the check."""
    folder = tmp_path_factory.mktemp("own_files")
    rng = np.random.default_rng(0)
    rooms, area = rng.integers(1, 7, 200), rng.uniform(30, 200, 200)
    city = rng.choice(["lyon", "nantes", "paris"], 200)
    price = 2000 * area + 10000 * rooms + 50000 * (city == "paris") + rng.normal(0, 5000, 200)
    lines = [
        "id,city,rooms,area,price",
        *(f"{i},{city[i]},{rooms[i]},{area[i]:.1f},{price[i]:.0f}" for i in range(200)),
    ]
    (folder / "houses.csv").write_text("\n".join(lines) + "\n")
    for name in ("photos", "DIR"):
        write_class_folders(folder / name, train=4, test=2)
    write_labels_file(folder, [(f"{n}.png", ["bag", "bag;trouser", "trouser"][n % 3], "") for n in range(12)])
    return folder


@pytest.mark.parametrize("name", COMMANDS)
def test_every_documented_command_passes_the_check(
    name: str, hydra_config: None, tmp_path: Path, own_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(own_files)  # where a user with their own files would type it
    module, overrides, error = COMMANDS[name]
    if error is None:
        checked(module, overrides, tmp_path)
        return
    with pytest.raises((TypeError, ValueError, InterpolationKeyError)) as raised:  # the manual's line, word for word
        build(checked(module, overrides, tmp_path))
    assert _message(raised.value.__cause__ or raised.value) == error  # what report_errors prints


def test_the_documents_hold_the_commands_and_choices_a_user_meets() -> None:
    assert len(COMMANDS) > 50 and any("model.kernel_sizes=5" in c[1] for c in COMMANDS.values())
    assert {"model.pool=[max,avg,null]", "model.pool=null", "model.decoder=unet"} <= {
        *CHOICES["model=cnn"],
        *CHOICES["model=cnn_fpn"],
    }
    assert "model.encoder.pool=[max,avg,null]" in CHOICES["model=cnn_fpn"]


CHOICES = documented_choices()


@pytest.mark.parametrize("option", CHOICES)
def test_every_documented_choice_passes_the_check(option: str, hydra_config: None, tmp_path: Path) -> None:
    for form in CHOICES[option]:
        cfg = checked("train", _data(option), tmp_path, form)
        override = OverridesParser.create().parse_override(form)
        value = OmegaConf.select(cfg, override.key_or_group)
        assert (OmegaConf.to_container(value) if OmegaConf.is_config(value) else value) == override.value()


# The forms of the per-layer and Trainer options, trained for one batch (debug=fdr) or a short epoch.
DIGITS = ["data=digits", "debug=fdr", "~callbacks.images", "callbacks.progress_bar.refresh_rate=0"]
FORMS: dict[str, list[str]] = {
    "per-layer lists": [*DIGITS, "model.channels=[8,16,16]", "model.kernel_sizes=[5,3,3]", "model.strides=[1,2,1]",
                        "model.paddings=[2,same,1]", "model.pool=[max,avg,null]", "trainer.devices=1"],
    "one value for all layers": [*DIGITS, "model.channels=[8,16]", "model.kernel_sizes=3", "model.strides=1",
                                 "model.paddings=1", "model.pool=avg", "trainer.devices=auto",
                                 "trainer.deterministic=warn", "trainer.fast_dev_run=2",
                                 "scheduler=cosine"],
    "no pooling, same padding, stride 2": [*DIGITS, "model.channels=[8]", "model.strides=2", "model.paddings=same",
                                           "model.pool=null", "trainer.deterministic=true"],
    "a fraction of batches to overfit": ["data=digits", "~callbacks.images", "model.channels=[8]",
                                         "trainer.overfit_batches=0.1", "trainer.max_epochs=1",
                                         "data.batch_size=16"],
    "encoder per level": ["data=fashion_seg", "model=cnn_fpn", "model.encoder.channels=[8,8,8]",
                          "model.encoder.kernel_sizes=[3,5,3]", "model.encoder.pool=[null,max,avg]", "debug=fdr"],
    "encoder one value": ["data=fashion_seg", "model=cnn_fpn", "model.encoder.channels=[8,8]",
                          "model.encoder.kernel_sizes=5", "model.encoder.pool=avg", "debug=fdr"],
}  # fmt: skip
SMALL_CANVASES = ["data.train_size=64", "data.val_size=32", "data.test_size=32", "data.canvas_size=[32,32]",
                  "data.batch_size=16", "model.decoder_channels=8", "~callbacks.images"]  # fmt: skip


@pytest.mark.parametrize("form", FORMS)
def test_each_option_form_trains_through_the_cli(form: str, tmp_path: Path) -> None:
    overrides = FORMS[form]
    if "data=fashion_seg" in overrides:
        items = write_mnist_like(tmp_path / "items", n_train=200, n_test=50)
        overrides = [*overrides, *SMALL_CANVASES, f"paths.data_dir={items}"]
    run_cli("train", *overrides, f"hydra.run.dir={tmp_path / 'run'}")
    assert (tmp_path / "run" / "metrics.json").is_file()


def test_every_per_layer_key_trains_in_both_forms() -> None:
    documented = {
        f"model.{key}" for path in (CONF / "model").glob("*.yaml") for key, _, comment in _commented_keys(path)
        if re.search(r"one per (layer|level)", comment)
    }  # fmt: skip
    assert {"model.kernel_sizes", "model.paddings", "model.encoder.pool"} <= documented
    trained = [o for overrides in FORMS.values() for o in overrides]
    for key in documented:
        assert any(o.startswith(f"{key}=[") for o in trained), f"no FORMS run trains {key} as a list"
        assert any(o.startswith(f"{key}=") and "[" not in o for o in trained), f"no FORMS run trains {key} as one value"


def test_a_list_of_devices_passes_the_check_and_reaches_lightning(tmp_path: Path) -> None:
    run = [*DIGITS, "trainer.accelerator=auto", "trainer.devices=[0]", f"hydra.run.dir={tmp_path}"]
    result = run_cli("train", *run, check=False)
    # A GPU trains on device 0; on a CPU Lightning takes a count only, and says so in one line.
    refused = "error: the trainer cannot start with trainer.accelerator=auto, trainer.devices=[0]"
    assert result.returncode == 0 or (result.returncode == 1 and refused in result.stderr), result.stderr
