from src.models.classifier import Classifier
from src.models.cnn import ConvNet
from src.models.mlp import MLP

__all__ = ["MLP", "Classifier", "ConvNet"]
