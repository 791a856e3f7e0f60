"""Tasks join a net, a loss and metrics. The data config picks one through Hydra's `task` group."""

from src.tasks.base import Task
from src.tasks.classification import ClassificationTask
from src.tasks.generative import ELBOParts, GenerativeTask
from src.tasks.segmentation import SegmentationScores, SegmentationTask

__all__ = ["ClassificationTask", "ELBOParts", "GenerativeTask", "SegmentationScores", "SegmentationTask", "Task"]
