"""The one-node SLURM cluster the `cluster` tests submit to: up once per session, stopped at its end."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.slurm import Cluster, one_node_cluster


@pytest.fixture(scope="session")
def slurm() -> Iterator[Cluster]:
    """SLURM_CONF points at the cluster for the session's commands (and the jobs they submit). SLURM_TEST_DIR
    says where it lives, on a machine that has a SLURM configuration of its own."""
    folder = os.environ.get("SLURM_TEST_DIR")
    with one_node_cluster(Path(folder) if folder else None) as cluster:
        saved = os.environ.get("SLURM_CONF")
        os.environ.update(cluster.environment)
        try:
            yield cluster
        finally:
            os.environ.pop("SLURM_CONF")
            if saved is not None:
                os.environ["SLURM_CONF"] = saved
