"""The task a user's own data asks for, chosen before Hydra composes the run.

A data config chooses its task in its defaults list, which cannot read files. Own data can say more: a labels
file with several labels per image is multi-label, a table's numeric target with many values is a regression.
So when the command line names no `task=`, the config is composed once here and the data module's
`infer_task(node)` asked; a task other than the composed one is added to the command line as `task=<name>`,
where Hydra records it (the run's overrides.yaml, its name, DDP's relaunch, src.eval's rebuild).
"""

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import get_class

from src.run.resolvers import is_override

CONF = Path(__file__).resolve().parents[2] / "conf"


def task_arguments(argv: list[str], config_name: str = "train") -> list[str]:
    """argv, plus `task=<name>` where the data's files call for a task the command line did not choose.

    Anything that keeps the config from composing here (a mistyped option, a missing file) leaves argv as it is:
    the run itself then reports it in one line.
    """
    if "--config-name" in argv or "--config-dir" in argv:  # resume=: the run keeps its own task
        return argv
    try:
        overrides = OverridesParser.create().parse_overrides([arg for arg in argv[1:] if is_override(arg)])
        if any(override.key_or_group.lstrip("+~") == "task" for override in overrides):
            return argv
        plain = [
            o.input_line for o in overrides if not o.is_sweep_override() and not o.key_or_group.startswith("hydra")
        ]
        with initialize_config_dir(str(CONF), version_base="1.3"):
            data = compose(config_name, overrides=plain).get("data")
        if data is None or "task" not in data or not hasattr(module := get_class(data._target_), "infer_task"):
            return argv
        inferred, chosen = module.infer_task(data), data.task
    except Exception:
        return argv
    return argv if inferred in (None, chosen) else [*argv, f"task={inferred}"]
