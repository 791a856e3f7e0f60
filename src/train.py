"""python -m src.train [group=option ...] [key=value ...]: fit, then test the best checkpoint.

Returns the monitored metric (conf/train.yaml `monitor`) so that sweepers can optimise it.
"""

import hydra
from omegaconf import DictConfig

from src.cli import report_errors


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@report_errors
def main(cfg: DictConfig) -> float | None:
    # Imported once the config has composed: a mistyped option is reported before torch takes seconds to load.
    from pathlib import Path

    import lightning as L

    from src.utils import build, build_trainer, log_config, save_metrics

    L.seed_everything(cfg.seed, workers=True)
    datamodule, task = build(cfg)
    trainer = build_trainer(cfg)
    log_config(trainer, cfg)
    trainer.fit(task, datamodule=datamodule)
    monitored = trainer.callback_metrics.get(cfg.monitor)
    if cfg.test:
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        trainer.test(task, datamodule=datamodule, ckpt_path=best or None, weights_only=True)
        metrics = save_metrics(trainer, Path(cfg.paths.output_dir) / "metrics.json")
        print(f"test metrics ({'best' if best else 'last'} weights): {metrics}")
    return None if monitored is None else float(monitored)


if __name__ == "__main__":
    main()
