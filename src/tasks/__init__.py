"""Tasks join a net, a loss and metrics. The data config picks one through Hydra's `task` group."""

from src.tasks.base import Task
from src.tasks.binary import BinaryClassificationTask
from src.tasks.boxes import BoxScores, BoxTask
from src.tasks.classification import ClassificationTask
from src.tasks.generative import ELBOParts, GenerativeTask
from src.tasks.multilabel import MultiLabelTask
from src.tasks.regression import RegressionTask
from src.tasks.segmentation import SegmentationScores, SegmentationTask

__all__ = [
    "BinaryClassificationTask",
    "BoxScores",
    "BoxTask",
    "ClassificationTask",
    "ELBOParts",
    "GenerativeTask",
    "MultiLabelTask",
    "RegressionTask",
    "SegmentationScores",
    "SegmentationTask",
    "Task",
]
