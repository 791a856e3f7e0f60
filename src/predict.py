"""python -m src.predict ckpt_path=<run>/checkpoints/best.ckpt input=<file | folder | glob> [output=DIR]

Rebuilds the net from the run's saved config (as src.eval does), decodes each image as the run's data was
(its channels, its training size, its mean and std), and writes what the task predicts, a batch at a time:
classification predictions.csv, segmentation masks/*.png at each image's own size (overlays/ with
overlay=true); regression, binary, multi-label: predictions.csv (a table input comes back with prediction
columns); boxes: predictions.csv in pixels (overlays/ with overlay=true); generative: reconstructions/ and
latent_means.csv, and sample=N draws N images from the prior (no input needed). backend=onnx
onnx_path=<model.onnx> runs the exported model instead of the checkpoint's net.
"""

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from src.run.config_check import check_config
from src.run.directories import check_output_dirs, eval_arguments, output_arguments, with_saved_run, write_status
from src.run.errors import report_errors

if TYPE_CHECKING:
    from lightning.pytorch import Trainer

    from src.data.base import InMemoryDataModule
    from src.inference.files import Predictor
    from src.inference.inputs import PredictionData
    from src.inference.onnx import OnnxNet

BACKENDS = ("torch", "onnx")


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
@report_errors
def main(cfg: DictConfig) -> None:
    for key in ("ckpt_path", "input") if not cfg.sample else ("ckpt_path",):
        if OmegaConf.is_missing(cfg, key):
            raise ValueError(
                f"{key} is required: python -m src.predict ckpt_path=<run>/checkpoints/best.ckpt input=<images>"
            )
    if cfg.backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {cfg.backend!r}")
    if cfg.backend == "onnx" and not cfg.onnx_path:
        raise ValueError("backend=onnx needs onnx_path=<model.onnx> (python -m src.export writes one)")
    if not Path(cfg.ckpt_path).is_file():
        raise FileNotFoundError(
            f"ckpt_path={cfg.ckpt_path} does not exist; pass a .ckpt file, e.g. <run>/checkpoints/best.ckpt"
        )
    cfg = with_saved_run(cfg, list(HydraConfig.get().overrides.task))  # the run's own data, model, loss, task
    check_config(cfg)
    from src.inference.inputs import list_inputs

    folder = Path(HydraConfig.get().runtime.output_dir)
    # An empty folder or a glob matching nothing fails before the net is built.
    paths = [] if OmegaConf.is_missing(cfg, "input") else list_inputs(str(cfg.input))
    if cfg.sample:
        sample(cfg, folder)
    if paths:
        predict(cfg, paths, folder)
    write_status(folder, "completed")


def sample(cfg: DictConfig, folder: Path) -> None:
    """sample=N: a grid of N draws from a generative run's prior, samples.png."""
    from src.inference.generative import write_samples
    from src.inference.run import load_trained, refuse_overwrite

    refuse_overwrite(folder, ("samples.png",), cfg.overwrite)
    _, task = load_trained(cfg)
    print(write_samples(task, int(cfg.sample), int(cfg.seed), folder / "samples.png"), flush=True)


def predict(cfg: DictConfig, paths: list[Path], folder: Path) -> None:
    """Write the task's predictions for `paths` into `folder`, a batch at a time (see src/inference/)."""
    trainer, predictor, data = prepare(cfg, paths, folder)
    trainer.predict(predictor, datamodule=data, return_predictions=False)


def prepare(cfg: DictConfig, paths: list[Path], folder: Path) -> tuple["Trainer", "Predictor", "PredictionData"]:
    """The trainer with the task's writer, the net to run and the files' loader, for Trainer.predict."""
    import lightning as L

    from src.data.tables import TableDataModule
    from src.inference.files import PredictionWriter, Predictor
    from src.inference.inputs import MODES, ImageFiles, PredictionData, check_images, output_names
    from src.inference.run import load_trained, refuse_overwrite
    from src.inference.tables import table_inputs
    from src.run.build import build_trainer

    L.seed_everything(cfg.seed, workers=True)
    # The checkpoint's weights whatever the backend: a regression's target mean and std are the task's buffers.
    datamodule, task = load_trained(cfg)
    files = task.prediction_files()
    refuse_overwrite(folder, files.outputs, cfg.overwrite)
    # The exported graph is the task's own module where it has one (a VAE's means and reconstructions).
    if cfg.backend == "torch":
        net = files.forward(task) or task.evaluation_net()
    else:
        net = onnx_net(cfg.onnx_path, datamodule)
    options = {"top_k": cfg.top_k, "overlay": cfg.overlay, "colours": getattr(datamodule, "class_colors", None),
               "predict": task.predict, "target_names": getattr(datamodule, "target_names", None),
               "latent_size": getattr(task.net, "latent_size", None),
               "image_shape": (datamodule.in_channels, *datamodule.image_size)}  # fmt: skip
    if isinstance(datamodule, TableDataModule):
        inputs, paths, names, mode = table_inputs(paths, datamodule, options)
    else:
        check_images(paths)
        inputs = ImageFiles(paths, datamodule.in_channels, datamodule.image_size, strict=cfg.strict)
        names, mode = output_names(paths), MODES[datamodule.in_channels]
    data = PredictionData(inputs, cfg.batch_size, datamodule.preprocess, cfg.num_workers)
    # Only the progress bar of the run's callbacks: predict writes no checkpoint and draws no pictures.
    cfg.callbacks = {"progress_bar": cfg.callbacks.progress_bar} if "progress_bar" in cfg.callbacks else {}
    trainer = build_trainer(cfg, fast_dev_run=False, limit_predict_batches=1.0, enable_checkpointing=False)
    writer_files = files(folder, datamodule.class_names, trainer.global_rank, **options)
    trainer.callbacks.append(PredictionWriter(writer_files, paths, names, mode))
    folder.mkdir(parents=True, exist_ok=True)
    return trainer, Predictor(net), data


def onnx_net(path: str, datamodule: "InMemoryDataModule") -> "OnnxNet":
    """The exported model behind backend=onnx, checked to take the run's images."""
    from src.inference.onnx import OnnxNet, require_onnx

    require_onnx()
    net = OnnxNet(path)
    net.check_input(datamodule.example_inputs(1).shape[1:])
    return net


if __name__ == "__main__":
    check_output_dirs(sys.argv)
    sys.argv = output_arguments(eval_arguments(sys.argv), "predictions/${now:%Y-%m-%d_%H-%M-%S}")
    main()
