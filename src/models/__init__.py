from src.models.backbone import InputAdapter, PretrainedClassifier, TimmClassifier, TorchvisionClassifier
from src.models.classifier import Classifier
from src.models.cnn import ConvNet
from src.models.encoders import CNNEncoder, TimmEncoder
from src.models.mlp import MLP
from src.models.segmenter import EncoderDecoder
from src.models.unet import UNet

__all__ = [
    "MLP",
    "CNNEncoder",
    "Classifier",
    "ConvNet",
    "EncoderDecoder",
    "InputAdapter",
    "PretrainedClassifier",
    "TimmClassifier",
    "TimmEncoder",
    "TorchvisionClassifier",
    "UNet",
]
