"""The project package.

Registers the OmegaConf resolvers the configs use. Here, not in a submodule, because every entry point runs as
`python -m src.<name>` and every test imports from `src`, so the package is imported before any config is
composed or read; a resolver registered in src.data would be missing whenever a config is resolved before
Hydra first imports the data module it instantiates.
"""

from collections.abc import Sequence

from omegaconf import OmegaConf


def class_count(classes: Sequence | None, default: int | None = None) -> int | None:
    """`${class_count:${.classes},10}`: how many classes a chosen subset keeps, or `default` when it is null."""
    return default if classes is None else len(classes)


OmegaConf.register_new_resolver("class_count", class_count, replace=True)  # replace: importlib.reload is harmless
