"""python -m src.eval ckpt_path=<run>/checkpoints/best.ckpt [overrides on top of the run's own config]

Rebuilds the model and data from the run's saved config (beside the checkpoint), loads only the checkpoint's
tensors, scores the test split, and writes metrics.json and a few pictures of the predictions. For a checkpoint
outside a run directory, pass the model/data overrides it was trained with.
"""

import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from src.run.config_check import check_config
from src.run.directories import check_output_dirs, eval_arguments, with_saved_run, write_status
from src.run.errors import report_errors


@hydra.main(version_base="1.3", config_path="../conf", config_name="eval")
@report_errors
def main(cfg: DictConfig) -> dict[str, float]:
    if OmegaConf.is_missing(cfg, "ckpt_path"):
        raise ValueError("ckpt_path is required: python -m src.eval ckpt_path=<run>/checkpoints/best.ckpt")
    if not os.path.isfile(cfg.ckpt_path):
        raise FileNotFoundError(
            f"ckpt_path={cfg.ckpt_path} does not exist; pass a .ckpt file, e.g. <run>/checkpoints/best.ckpt"
        )
    # The run's own data, model, loss and task first: its saved values of what the files said stand, even where
    # those files have moved.
    cfg = with_saved_run(cfg, list(HydraConfig.get().overrides.task))
    check_config(cfg)
    # Imported once the config has composed: a mistyped option is reported before torch takes seconds to load.
    import lightning as L

    from src.run.build import build, build_trainer, save_metrics
    from src.run.checkpoints import load_checkpoint

    L.seed_everything(cfg.seed, workers=True)
    datamodule, task = build(cfg)
    load_checkpoint(cfg.ckpt_path, task)
    trainer = build_trainer(cfg)
    trainer.test(task, datamodule=datamodule)
    metrics = save_metrics(trainer, Path(cfg.paths.output_dir) / "metrics.json", f"test metrics of {cfg.ckpt_path}")
    write_status(cfg.paths.output_dir, "completed")
    return metrics


if __name__ == "__main__":
    check_output_dirs(sys.argv)
    sys.argv = eval_arguments(sys.argv)
    main()
