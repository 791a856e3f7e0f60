"""python -m src.train [group=option ...] [key=value ...]: fit, then test the best checkpoint.

    python -m src.train resume=<run dir> [key=value ...]   # continue a stopped run in its own directory

Returns the best value of the monitored metric (the task config's `monitor`), which sweepers optimise.
"""

import sys
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig

from src.run.config_check import check_config
from src.run.directories import check_output_dirs, resume_arguments, threads_per_job, write_status
from src.run.errors import report_errors
from src.run.slurm import requeued_checkpoint
from src.run.task_choice import task_arguments


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@report_errors
def main(cfg: DictConfig) -> float | None:
    check_config(cfg)
    # Imported once the config has composed: a mistyped option is reported before torch takes seconds to load.
    import lightning as L
    import torch
    from lightning.pytorch.loggers import TensorBoardLogger

    from src.run.build import build, build_trainer, run_hparams, save_metrics
    from src.run.checkpoints import check_fits, read_checkpoint

    if threads := threads_per_job():
        torch.set_num_threads(threads)
    L.seed_everything(cfg.seed, workers=True)
    datamodule, task = build(cfg)
    # Set by resume=<run dir>; or this is a SLURM job that was requeued, and goes on where it stopped.
    resume_from = cfg.get("ckpt_path") or requeued_checkpoint(cfg.paths.output_dir)
    if resume_from:  # the checkpoint must fit the model the run's config builds, tensor by tensor
        check_fits(resume_from, task, read_checkpoint(resume_from)["state_dict"])
    trainer = build_trainer(cfg)
    write_status(cfg.paths.output_dir, "running")
    started = time.monotonic()
    trainer.fit(task, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
    fit_seconds = round(time.monotonic() - started, 1)  # data set-up, training, validation and its pictures
    # The last epoch's training and validation values (a test run replaces them), and the training images seen.
    last_epoch = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(("train/", "val/"))}
    seen = trainer.global_step * trainer.accumulate_grad_batches * trainer.world_size * cfg.data.batch_size
    checkpoint = trainer.checkpoint_callback
    best_path = checkpoint.best_model_path if checkpoint else ""
    # The best value of the monitored metric, which sweepers optimise; the last one when nothing was saved.
    monitored = checkpoint.best_model_score if best_path else trainer.callback_metrics.get(task.monitor)
    monitored = None if monitored is None else float(monitored)
    metrics = {}
    if cfg.test:
        trainer.test(task, datamodule=datamodule, ckpt_path=best_path or None, weights_only=True)
        metrics = save_metrics(
            trainer,
            Path(cfg.paths.output_dir) / "metrics.json",
            f"test metrics of the {'best' if best_path else 'last'} weights",
        )
    for logger in trainer.loggers:  # TensorBoard's HParams tab: the run's choices against its results
        scores = {f"{task.monitor}_best": monitored, **{k: v for k, v in metrics.items() if k.count("/") == 1}}
        scores = {name: value for name, value in scores.items() if value is not None}  # no validation, no test
        logger.log_hyperparams(
            run_hparams(cfg), **({"metrics": scores} if isinstance(logger, TensorBoardLogger) else {})
        )
        logger.finalize("success")  # written now: after Lightning's own finalize, only a close would flush it
    write_status(
        cfg.paths.output_dir, "completed", best={task.monitor: monitored}, epochs=trainer.current_epoch,
        fit_seconds=fit_seconds, images_per_second=round(seen / max(fit_seconds, 1e-3), 1), last_epoch=last_epoch,
    )  # fmt: skip
    if trainer.is_global_zero:
        print(f"run directory: {cfg.paths.output_dir} (tensorboard --logdir outputs)")
    return monitored


if __name__ == "__main__":
    check_output_dirs(sys.argv)
    sys.argv = task_arguments(resume_arguments(sys.argv))
    main()
