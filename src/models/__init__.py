from src.models.backbone import InputAdapter, PretrainedClassifier, TimmClassifier, TorchvisionClassifier
from src.models.classifier import Classifier
from src.models.cnn import ConvNet
from src.models.encoders import CNNEncoder, TimmEncoder
from src.models.mlp import MLP
from src.models.segmenter import EncoderDecoder
from src.models.unet import UNet
from src.models.vae import VAE, VAEMLP, VAEConv, VAEOutput

__all__ = [
    "MLP",
    "VAE",
    "VAEMLP",
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
    "VAEConv",
    "VAEOutput",
]
