"""How the command line reports a user's mistake: one line, exit code 1, the traceback only on request.

Imports nothing heavy, so that train.py and eval.py can compose (and reject) a config before torch and
Lightning are loaded.
"""

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

# Mistakes a user can make in a config or on disk.
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    FileNotFoundError,
    PermissionError,
    FloatingPointError,
    OmegaConfBaseException,
)


def _is_user_error(error: BaseException) -> bool:
    if isinstance(error, USER_ERRORS):
        return True
    lightning_errors = sys.modules.get("lightning.fabric.utilities.exceptions")
    # Lightning's word for an impossible trainer setting, e.g. a GPU that is not there.
    return lightning_errors is not None and isinstance(error, lightning_errors.MisconfigurationException)


def report_errors(main: Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
    """Turn a user's mistake into `error: ...` on stderr and exit code 1; HYDRA_FULL_ERROR=1 shows the traceback."""

    @functools.wraps(main)
    def wrapped(cfg: DictConfig) -> Any:
        try:
            return main(cfg)
        except Exception as error:
            # Hydra wraps what a config's _target_ raises; the cause is the user's mistake.
            cause = error.__cause__ if isinstance(error, InstantiationException) and error.__cause__ else error
            if os.environ.get("HYDRA_FULL_ERROR") == "1" or not _is_user_error(cause):
                raise
            message = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
            print(f"error: {message} (HYDRA_FULL_ERROR=1 shows the traceback)", file=sys.stderr)
            if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
                raise  # Hydra marks this job failed and goes on with the next one
            sys.exit(1)

    return wrapped
