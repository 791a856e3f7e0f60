"""A one-node SLURM cluster on this machine, for `make test-cluster`: munged, slurmctld and slurmd in a
directory of their own.

    python -m tests.cluster.slurm [--dir DIR] [-- COMMAND ...]   # up, COMMAND with SLURM_CONF set (or wait), down

Installs `slurm-wlm` and `munge` with apt-get when they are missing, writes a one-node configuration (this
machine's cores and memory as `slurmd -C` sees them, one partition; process tracking and task plugins that need
no cgroups, no accounting database, job completions in a text file), creates a munge key, starts the three
daemons on that configuration, waits until `sinfo` shows the node idle, and stops what it started, by pid, at
the end or on failure. Nothing outside DIR is written (but the packages); where a SLURM configuration exists
already (/etc/slurm/slurm.conf), it refuses unless --dir says where its own goes.
"""

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
PACKAGES = {"sbatch": "slurm-wlm", "slurmctld": "slurm-wlm", "slurmd": "slurm-wlm", "munged": "munge"}
PORTS = (6817, 6818)  # slurmctld's and slurmd's, SLURM's defaults
PARTITION = "debug"


class ClusterError(RuntimeError):
    """The cluster could not be brought up; the message says why and which log to read."""


def install() -> None:
    """apt-get install slurm-wlm munge, when one of their programs is missing."""
    missing = sorted({package for program, package in PACKAGES.items() if shutil.which(program) is None})
    if not missing:
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise ClusterError(f"{' and '.join(missing)} missing; install them (sudo apt-get install {' '.join(missing)})")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        subprocess.run(command, check=True, env=environment, stdout=subprocess.DEVNULL)


def configuration(folder: Path) -> str:
    """slurm.conf for one node, localhost, with the cores and memory slurmd finds here."""
    found = subprocess.run(["slurmd", "-C"], check=True, capture_output=True, text=True).stdout.splitlines()[0]
    hardware = " ".join(item for item in found.split() if not item.startswith("NodeName="))
    sizes = dict(item.split("=", 1) for item in found.split())
    memory_per_cpu = int(sizes["RealMemory"]) // int(sizes["CPUs"])  # a job that asks no memory takes its share
    return f"""\
ClusterName=onenode
SlurmctldHost=localhost
SlurmUser=root
SlurmctldPort={PORTS[0]}
SlurmdPort={PORTS[1]}
AuthType=auth/munge
AuthInfo=socket={folder}/munge/munge.socket
CredType=cred/munge
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
# A container has no cgroups to give: processes are tracked through /proc, tasks are not bound to cores.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU={memory_per_cpu}
# No accounting database (sacct has nothing to read); each finished or requeued job is a line of this file.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc={folder}/jobcomp.txt
ReturnToService=2
MailProg=/bin/true
KillWait=10
NodeName=localhost NodeAddr=127.0.0.1 {hardware} State=UNKNOWN
PartitionName={PARTITION} Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


class Cluster:
    """The daemons of a one-node cluster in `folder`; `environment` is what its clients (sbatch, sinfo) need."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.conf = folder / "slurm.conf"
        self.environment = {"SLURM_CONF": str(self.conf)}
        self.started: list[subprocess.Popen] = []

    def start(self) -> None:
        if busy := [port for port in PORTS if _listening(port)]:
            raise ClusterError(f"port {busy[0]} is taken (another slurmctld or slurmd?); stop it first")
        munge = self.folder / "munge"
        for sub in (munge, self.folder / "state", self.folder / "spool"):
            sub.mkdir(parents=True, exist_ok=True)
        if not (munge / "munge.key").exists():
            subprocess.run(["mungekey", "--create", f"--keyfile={munge}/munge.key"], check=True)
        self.conf.write_text(configuration(self.folder))
        # In the foreground (-F, -D): each daemon is our child, its pid the one we stop.
        self._start(["munged", "-F", "--force", f"--socket={munge}/munge.socket", f"--key-file={munge}/munge.key",
                     f"--pid-file={munge}/munged.pid", f"--log-file={munge}/munged.log",
                     f"--seed-file={munge}/munged.seed"], ready=munge / "munge.socket")  # fmt: skip
        self._start(["slurmctld", "-D", "-f", str(self.conf)], ready=self.folder / "slurmctld.pid")
        self._start(["slurmd", "-D", "-f", str(self.conf), "-N", "localhost"], ready=self.folder / "slurmd.pid")
        self._wait_idle()

    def _start(self, command: list[str], ready: Path, timeout: float = 30) -> None:
        """Start a daemon in the foreground, its output in <folder>/<name>.out; wait for the file it makes ready."""
        ready.unlink(missing_ok=True)
        with open(self.folder / f"{command[0]}.out", "ab") as out:
            daemon = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **self.environment}
            )
        self.started.append(daemon)
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise ClusterError(f"{command[0]} did not start; see {self.folder}/{command[0]}.out and its log")
            time.sleep(0.1)

    def _wait_idle(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while (state := self.node_state()) != "idle":
            if time.monotonic() > deadline:
                raise ClusterError(f"the node is {state or 'not known'}, not idle, after {timeout:.0f} s; see "
                                   f"{self.folder}/slurmctld.log and slurmd.log")  # fmt: skip
            time.sleep(0.5)

    def node_state(self) -> str:
        return self.client("sinfo", "-h", "-N", "-o", "%T")

    def client(self, *command: str) -> str:
        """What a SLURM command prints for this cluster ("" if it fails)."""
        result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **self.environment})
        return result.stdout.strip() if result.returncode == 0 else ""

    def stop(self, timeout: float = 30) -> None:
        """Cancel the jobs left on the node and wait until they are gone (a job's slurmstepd outlives slurmd),
        then SIGTERM every daemon this object started, the last started first, and wait for each to end."""
        controller_up = len(self.started) >= 2  # munged, then slurmctld
        if controller_up and (jobs := self.client("squeue", "-h", "-o", "%A").split()):
            self.client("scancel", *jobs)
            deadline = time.monotonic() + timeout
            while self.client("squeue", "-h", "-o", "%A") and time.monotonic() < deadline:
                time.sleep(0.5)
        for daemon in reversed(self.started):
            daemon.terminate()
            try:
                daemon.wait(timeout)
            except subprocess.TimeoutExpired:
                print(f"warning: {daemon.args[0]} (pid {daemon.pid}) ignored SIGTERM; killing it", file=sys.stderr)
                daemon.kill()
                daemon.wait()
        self.started.clear()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def one_node_cluster(folder: Path | None = None) -> Iterator[Cluster]:
    """A running one-node cluster in `folder` (when None, a new temporary directory, removed after a clean exit);
    stopped on leaving."""
    if folder is None and (SYSTEM_CONF.exists() or "SLURM_CONF" in os.environ):
        existing = os.environ.get("SLURM_CONF", SYSTEM_CONF)
        raise ClusterError(f"this machine has a SLURM configuration ({existing}): pass --dir DIR "
                           "(make test-cluster: SLURM_TEST_DIR=DIR) for a test cluster of its own there")  # fmt: skip
    install()
    cluster = Cluster(Path(folder or tempfile.mkdtemp(prefix="slurm-one-node-")).resolve())
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
    if folder is None:  # kept when something failed: its logs say why
        shutil.rmtree(cluster.folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, help="where the configuration, state and logs go (default: a new one)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="run this with SLURM_CONF set, then stop")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        with one_node_cluster(args.dir) as cluster:
            print(f"one-node SLURM cluster up: export SLURM_CONF={cluster.conf}", flush=True)
            if not command:
                stops = {signal.SIGINT, signal.SIGTERM}
                signal.pthread_sigmask(signal.SIG_BLOCK, stops)
                signal.sigwait(stops)  # until Ctrl-C or a kill
                return
            code = subprocess.run(command, env={**os.environ, **cluster.environment}).returncode
    except ClusterError as error:
        sys.exit(f"error: {error}")
    sys.exit(code)


if __name__ == "__main__":
    main()
