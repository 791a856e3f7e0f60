from src.data.base import InMemoryDataModule, InMemoryDataset
from src.data.cifar10 import CIFAR10DataModule
from src.data.classification import ClassificationDataModule
from src.data.csv_table import CSVTableDataModule
from src.data.digits import DigitsDataModule
from src.data.fashion_seg import FashionBoxesDataModule, FashionMultiLabelDataModule, FashionSegDataModule
from src.data.files import DataNotFoundError
from src.data.folder import FolderDataModule
from src.data.generative import GenerativeFashionMNIST, GenerativeImages, GenerativeMNIST
from src.data.image_folder import ImageFolderDataModule
from src.data.mnist import FashionMNISTDataModule, MNISTDataModule
from src.data.photos import OxfordPetsDataModule, VOCDataModule
from src.data.segmentation import SegmentationDataModule
from src.data.tables import BreastCancerDataModule, DiabetesDataModule, TableDataModule, WineDataModule

__all__ = [
    "BreastCancerDataModule",
    "CIFAR10DataModule",
    "CSVTableDataModule",
    "ClassificationDataModule",
    "DataNotFoundError",
    "DiabetesDataModule",
    "DigitsDataModule",
    "FashionBoxesDataModule",
    "FashionMNISTDataModule",
    "FashionMultiLabelDataModule",
    "FashionSegDataModule",
    "FolderDataModule",
    "GenerativeFashionMNIST",
    "GenerativeImages",
    "GenerativeMNIST",
    "ImageFolderDataModule",
    "InMemoryDataModule",
    "InMemoryDataset",
    "MNISTDataModule",
    "OxfordPetsDataModule",
    "SegmentationDataModule",
    "TableDataModule",
    "VOCDataModule",
    "WineDataModule",
]
