from src.models.backbone import InputAdapter, PretrainedClassifier, TimmClassifier, TorchvisionClassifier
from src.models.classifier import Classifier
from src.models.cnn import ConvNet
from src.models.mlp import MLP

__all__ = [
    "MLP",
    "Classifier",
    "ConvNet",
    "InputAdapter",
    "PretrainedClassifier",
    "TimmClassifier",
    "TorchvisionClassifier",
]
