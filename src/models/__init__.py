from src.models.classifier import Classifier
from src.models.cnn import ConvNet
from src.models.mlp import MLP
from src.models.unet import UNet

__all__ = ["MLP", "Classifier", "ConvNet", "UNet"]
