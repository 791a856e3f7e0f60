from src.callbacks.classification_images import ClassificationImages
from src.callbacks.frechet import ClassifierFeatures, FrechetDistance
from src.callbacks.generative_images import GenerativeImages
from src.callbacks.segmentation_images import SegmentationImages
from src.callbacks.transfer import BackboneTransfer

__all__ = [
    "BackboneTransfer",
    "ClassificationImages",
    "ClassifierFeatures",
    "FrechetDistance",
    "GenerativeImages",
    "SegmentationImages",
]
