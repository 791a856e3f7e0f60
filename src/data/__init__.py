from src.data.base import InMemoryDataModule
from src.data.cifar10 import CIFAR10DataModule
from src.data.digits import DigitsDataModule
from src.data.files import DataNotFoundError
from src.data.mnist import FashionMNISTDataModule, MNISTDataModule

__all__ = [
    "CIFAR10DataModule",
    "DataNotFoundError",
    "DigitsDataModule",
    "FashionMNISTDataModule",
    "InMemoryDataModule",
    "MNISTDataModule",
]
