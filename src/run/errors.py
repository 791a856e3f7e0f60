"""How the command line reports a user's mistake: one line, exit code 1, the traceback only on request.

Imports nothing heavy, so that train.py and eval.py can compose (and reject) a config before torch and
Lightning are loaded.
"""

import functools
import os
import re
import sys
from collections.abc import Callable
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import InterpolationKeyError, InterpolationResolutionError, OmegaConfBaseException

from src.run.directories import started_here, write_status

# Mistakes a user can make in a config or on disk (OSError: a full disk, a folder one may not write to).
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    OSError,
    FloatingPointError,
    OmegaConfBaseException,
)
OUT_OF_MEMORY_HINT = (
    "out of memory on the GPU; lower data.batch_size, use trainer.precision=16-mixed (bf16-mixed on an Ampere "
    "or newer GPU), or a smaller model"
)


def _is_out_of_memory(error: BaseException) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(error, torch.OutOfMemoryError)


def _is_user_error(error: BaseException) -> bool:
    if isinstance(error, USER_ERRORS) or _is_out_of_memory(error):
        return True
    if isinstance(error, InstantiationException) and str(error).startswith("Error locating target"):
        return True  # a _target_ that names no importable class
    lightning_errors = sys.modules.get("lightning.fabric.utilities.exceptions")
    # Lightning's word for an impossible trainer setting, e.g. a GPU that is not there.
    return lightning_errors is not None and isinstance(error, lightning_errors.MisconfigurationException)


def _missing_data_key(error: BaseException) -> str | None:
    """What a model config asked of the data that its config lacks (a CNN's data.in_channels on a table)."""
    found = re.match(r"Interpolation key 'data\.(\w+)' not found", str(error))
    if not isinstance(error, InterpolationKeyError) or not found or not HydraConfig.initialized():
        return None
    choices = HydraConfig.get().runtime.choices
    return (
        f"model={choices.get('model')} needs data.{found[1]}, which data={choices.get('data')} does not have; "
        "choose a model its samples fit (a table's rows are feature vectors, data.num_features: model=mlp)"
    )


def _cause(error: BaseException) -> BaseException:
    """The user's mistake behind the wrappers: Hydra's InstantiationException (its __cause__, what a config's
    _target_ raised) and OmegaConf's InterpolationResolutionError (what a resolver raised, chained as __context__
    under a copy of itself)."""
    if isinstance(error, InstantiationException) and error.__cause__:
        return error.__cause__
    while isinstance(error, InterpolationResolutionError) and error.__context__ is not None:
        error = error.__context__
    return error


def _message(error: BaseException) -> str:
    if _is_out_of_memory(error):
        return OUT_OF_MEMORY_HINT
    if missing := _missing_data_key(error):
        return missing
    # The first line that says something: some libraries start their messages with a newline.
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)


def report_errors(main: Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
    """Turn a user's mistake into `error: ...` on stderr and exit code 1; HYDRA_FULL_ERROR=1 shows the traceback.

    The run directory's status.json says "failed" with that line (or "interrupted" after Ctrl-C), so that a
    refused or crashed run does not look like a finished one; a refused resume= leaves the status of the run it
    would have continued as it was. In a sweep the job returns NaN instead of
    exiting, so that the other jobs run.
    """

    @functools.wraps(main)
    def wrapped(cfg: DictConfig) -> Any:
        run_dir = HydraConfig.get().runtime.output_dir if HydraConfig.initialized() else None
        try:
            return main(cfg)
        except SystemExit:  # Lightning exits this way after a KeyboardInterrupt
            if run_dir and started_here(run_dir):
                write_status(run_dir, "interrupted")
            raise
        except Exception as error:
            # Hydra wraps what a config's _target_ raises, OmegaConf what a resolver raises (a data module reading
            # its files for ${survey:...}); the cause is the user's mistake.
            cause = _cause(error)
            message = _message(cause)
            if run_dir and started_here(run_dir):
                write_status(run_dir, "failed", error=message)
            if os.environ.get("HYDRA_FULL_ERROR") == "1" or not _is_user_error(cause):
                raise
            print(f"error: {message} (HYDRA_FULL_ERROR=1 shows the traceback)", file=sys.stderr)
            if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
                # The sweep goes on; a sweeper sees a failed trial (NaN), and the sweep summary lists the job with
                # this line and makes the sweep exit with 1 at its end.
                return float("nan")
            sys.exit(1)

    return wrapped
