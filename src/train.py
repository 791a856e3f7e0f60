"""python -m src.train [group=option ...] [key=value ...]: fit, then test the best checkpoint.

Returns the best value of the monitored metric (conf/train.yaml `monitor`), which sweepers optimise.
"""

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from src.cli import report_errors


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@report_errors
def main(cfg: DictConfig) -> float | None:
    # Imported once the config has composed: a mistyped option is reported before torch takes seconds to load.
    import lightning as L

    from src.utils import build, build_trainer, save_metrics

    L.seed_everything(cfg.seed, workers=True)
    datamodule, task = build(cfg)
    trainer = build_trainer(cfg)
    for logger in trainer.loggers:  # the whole composed config as hyper-parameters (TensorBoard's HParams tab)
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    trainer.fit(task, datamodule=datamodule)
    checkpoint = trainer.checkpoint_callback
    best_path = checkpoint.best_model_path if checkpoint else ""
    # The best value of the monitored metric, which sweepers optimise; the last one when nothing was saved.
    monitored = checkpoint.best_model_score if best_path else trainer.callback_metrics.get(cfg.monitor)
    if cfg.test:
        trainer.test(task, datamodule=datamodule, ckpt_path=best_path or None, weights_only=True)
        save_metrics(
            trainer,
            Path(cfg.paths.output_dir) / "metrics.json",
            f"test metrics of the {'best' if best_path else 'last'} weights",
        )
    if trainer.is_global_zero:
        print(f"run directory: {cfg.paths.output_dir} (tensorboard --logdir outputs)")
    return None if monitored is None else float(monitored)


if __name__ == "__main__":
    main()
