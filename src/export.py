"""python -m src.export ckpt_path=<run>/checkpoints/best.ckpt format=onnx [output=DIR]

Rebuilds the net from the run's saved config with the checkpoint's weights, exports it from eval mode (traced on
a batch of 2; a dynamic batch axis, and dynamic height and width for segmenters) to model.onnx, and checks it
before reporting success: ONNX Runtime against PyTorch on the first test images at another batch size (and
another image size), rtol=1e-3 and atol=1e-5 (1.5e-3 for nets with TF "same" padding, exported at one size),
and the same predicted class or mask. model.json beside it says how to feed the model and read its output.
"""

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from src.run.config_check import check_config
from src.run.directories import check_output_dirs, eval_arguments, output_arguments, with_saved_run, write_status
from src.run.errors import report_errors

FORMATS = ("onnx",)


@hydra.main(version_base="1.3", config_path="../conf", config_name="export")
@report_errors
def main(cfg: DictConfig) -> dict:
    if OmegaConf.is_missing(cfg, "ckpt_path"):
        raise ValueError("ckpt_path is required: python -m src.export ckpt_path=<run>/checkpoints/best.ckpt")
    if cfg.format not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, got {cfg.format!r}")
    if not Path(cfg.ckpt_path).is_file():
        raise FileNotFoundError(f"ckpt_path={cfg.ckpt_path} does not exist; pass a .ckpt file that src.train wrote")
    from src.inference.onnx import require_onnx

    require_onnx()
    cfg = with_saved_run(cfg, list(HydraConfig.get().overrides.task))  # the run's own data, model, loss, task
    check_config(cfg)
    folder = Path(HydraConfig.get().runtime.output_dir)
    card = export(
        cfg, folder, [o for o in HydraConfig.get().overrides.task if not o.startswith(("hydra.", "ckpt_path="))]
    )
    write_status(folder, "completed")
    return card


def export(cfg: DictConfig, folder: Path, overrides: list[str]) -> dict:
    """model.onnx and model.json in `folder`, or one error line and nothing written."""
    import lightning as L
    import torch

    from src.inference.onnx import export_checked, model_card, probe_batches, write_model_card
    from src.inference.run import load_trained, refuse_overwrite

    L.seed_everything(cfg.seed, workers=True)
    datamodule, task = load_trained(cfg)
    files = task.prediction_files()
    refuse_overwrite(folder, ("model.onnx", "model.json"), cfg.overwrite)
    trace, checks = probe_batches(datamodule, cfg.trace_batch_size)
    # The task's own module where it has one (a VAE: means and reconstructions), compared value by value.
    module = files.forward(task)
    net, predict = (task.evaluation_net(), task.predict) if module is None else (module, torch.nn.Identity())
    parity = export_checked(net, trace, checks, folder / "model.onnx", predict)
    card = model_card(datamodule, task, parity, overrides, cfg.ckpt_path)
    write_model_card(folder / "model.json", card)
    size = "any height and width" if parity["dynamic_size"] else "height and width fixed at {}x{}"
    size = size.format(*datamodule.image_size) if len(datamodule.image_size) == 2 else "rows of features"
    if parity["atol"] > 1e-5:
        size += " (TF 'same' padding depends on the input size; atol 1.5e-3)"
    print(
        f"wrote {folder / 'model.onnx'} (opset {card['opset']}, dynamic batch, {size}) and model.json; "
        f"ONNX Runtime vs PyTorch on {parity['inputs']}: largest |difference| {parity['max_abs_difference']:.3g} "
        f"(rtol {parity['rtol']}, atol {parity['atol']}), predictions agree on {100 * parity['agreement']:.0f}%"
    )
    return card


if __name__ == "__main__":
    check_output_dirs(sys.argv)
    sys.argv = output_arguments(eval_arguments(sys.argv), "export")
    main()
