"""A warm interpreter that runs `python -m src.<module> args...` in a forked child per request, for the CLI tests.

A fresh interpreter spends about 5 s importing torch, torchvision and Lightning before the CLI does anything;
the CLI tests start dozens. This server imports them once, then forks for every run: the child is a new process
(its own exit code, signals, stdout and stderr, files and environment) that runs the module exactly as
`python -m` does (runpy, as __main__, with sys.argv), and exits as the interpreter does: the exit code of
its SystemExit (or 1 and the traceback), non-daemon threads joined, atexit handlers run, streams flushed. It
skips one step, the teardown of every module and object, which in a fork of a process holding torch costs
1.3 s and does nothing a test could see.

Protocol, one JSON object per line: request {"module", "args", "env", "stdout", "stderr"} on stdin (the last
two are file paths the child writes; a PYTHONPATH in env is followed as a new interpreter would), reply
{"returncode"} on stdout (negative: killed by that signal).
"""

import atexit
import gc
import importlib
import json
import os
import runpy
import sys
import threading
import traceback
from pathlib import Path

import lightning  # noqa: F401  (the slow imports every run shares)
import matplotlib.pyplot  # noqa: F401
import torch
import torchvision  # noqa: F401
from hydra.core.plugins import Plugins

# The project's own modules too, with Hydra's plugin scan in serve(): another 0.2 s a run. From this checkout
# (the server starts in its root), as `python -m` would import them, not from wherever `pip install -e` pointed.
sys.path.insert(0, os.getcwd())
for module in ("callbacks", "data", "eval", "losses", "models", "tasks", "train", "inference.files", "predict"):
    importlib.import_module(f"src.{module}")
try:  # the export extra: torch's ONNX exporter and ONNX Runtime, 2 s of imports in every src.export run otherwise
    import onnxruntime  # noqa: F401
    import torch.onnx._internal.exporter._core
except ImportError:
    pass


def run(request: dict) -> None:
    """In the forked child: become `python -m src.<module> args` writing to the given files, then exit."""
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
    os.environ.update(request["env"])
    if "OMP_NUM_THREADS" in request["env"]:  # read when torch starts its thread pool, which the parent never did
        torch.set_num_threads(int(request["env"]["OMP_NUM_THREADS"]))
    sys.argv = [f"src.{request['module']}", *request["args"]]
    sys.path[0] = os.getcwd()  # as `python -m` sets it (this script's folder stood there)
    if "PYTHONPATH" in request["env"]:
        follow_pythonpath(request["env"]["PYTHONPATH"].split(os.pathsep))
    try:
        runpy.run_module(f"src.{request['module']}", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exit_:
        code = exit_code(exit_)
    except BaseException:
        traceback.print_exc()
        code = 1
    threading._shutdown()  # as the interpreter's exit: threading's exit hooks (joblib's), then joins threads
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def follow_pythonpath(folders: list[str]) -> None:
    """As a new interpreter with this PYTHONPATH: its folders come right after the working directory on sys.path,
    and the modules they hold are imported from there again, the project's own too (which imported them)."""
    sys.path[1:1] = folders
    shadowed = {"src"} | {entry.name.partition(".")[0] for folder in folders if Path(folder).is_dir()
                               for entry in Path(folder).iterdir()}  # fmt: skip
    for name in [name for name in sys.modules if name.partition(".")[0] in shadowed]:
        del sys.modules[name]


def exit_code(exit_: SystemExit) -> int:
    """What the interpreter makes of SystemExit: None is 0, an integer itself, anything else printed and 1."""
    if exit_.code is None or isinstance(exit_.code, int):
        return exit_.code or 0
    print(exit_.code, file=sys.stderr)
    return 1


def serve() -> None:
    Plugins.instance()  # discovers the sweeper and launcher plugins once
    # Out of the collector's sight: a child's first full collection would otherwise walk (and, by writing their
    # headers, copy) the million objects torch and Lightning left here, half the cost of a failing run.
    gc.freeze()
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            run(request)  # never returns: the child exits inside
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), flush=True)


if __name__ == "__main__":
    serve()
