"""python -m src.eval ckpt_path=<run>/checkpoints/best.ckpt [the run's model/data overrides]

Rebuilds the model from the config, loads only the checkpoint's tensors, and scores the test split.
"""

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from src.cli import report_errors


@hydra.main(version_base="1.3", config_path="../conf", config_name="eval")
@report_errors
def main(cfg: DictConfig) -> dict[str, float]:
    if OmegaConf.is_missing(cfg, "ckpt_path"):
        raise ValueError("ckpt_path is required: python -m src.eval ckpt_path=<run>/checkpoints/best.ckpt")
    if not os.path.isfile(cfg.ckpt_path):
        raise FileNotFoundError(
            f"ckpt_path={cfg.ckpt_path} does not exist; pass a .ckpt file, e.g. <run>/checkpoints/best.ckpt"
        )
    # Imported once the config has composed: a mistyped option is reported before torch takes seconds to load.
    import lightning as L

    from src.utils import build, build_trainer, load_checkpoint, save_metrics

    L.seed_everything(cfg.seed, workers=True)
    datamodule, task = build(cfg)
    load_checkpoint(cfg.ckpt_path, task)
    trainer = build_trainer(cfg)
    trainer.test(task, datamodule=datamodule)
    return save_metrics(trainer, Path(cfg.paths.output_dir) / "metrics.json", f"test metrics of {cfg.ckpt_path}")


if __name__ == "__main__":
    main()
