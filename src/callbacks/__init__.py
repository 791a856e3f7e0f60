from src.callbacks.visualize import TensorBoardImages

__all__ = ["TensorBoardImages"]
