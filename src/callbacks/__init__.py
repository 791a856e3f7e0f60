from src.callbacks.classification_images import ClassificationImages
from src.callbacks.segmentation_images import SegmentationImages

__all__ = ["ClassificationImages", "SegmentationImages"]
