from src.callbacks.classification_images import ClassificationImages
from src.callbacks.score_pictures import BinaryPictures, RegressionPictures
from src.callbacks.segmentation_images import SegmentationImages
from src.callbacks.transfer import BackboneTransfer

__all__ = ["BackboneTransfer", "BinaryPictures", "ClassificationImages", "RegressionPictures", "SegmentationImages"]
