from src.callbacks.classification_images import ClassificationImages
from src.callbacks.frechet import ClassifierFeatures, FrechetDistance
from src.callbacks.generative_images import GenerativeImages
from src.callbacks.score_pictures import BinaryPictures, BoxPictures, MultiLabelPictures, RegressionPictures
from src.callbacks.segmentation_images import SegmentationImages
from src.callbacks.transfer import BackboneTransfer

__all__ = [
    "BackboneTransfer",
    "BinaryPictures",
    "BoxPictures",
    "ClassificationImages",
    "ClassifierFeatures",
    "FrechetDistance",
    "GenerativeImages",
    "MultiLabelPictures",
    "RegressionPictures",
    "SegmentationImages",
]
