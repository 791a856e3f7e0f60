"""Tasks join a net, a loss and metrics. The data module names its task; train.py looks it up here."""

from lightning.pytorch import LightningModule

from src.tasks.classification import ClassificationTask

TASKS: dict[str, type[LightningModule]] = {ClassificationTask.name: ClassificationTask}

__all__ = ["TASKS", "ClassificationTask"]
