"""Multi-host jobs: joining one, and which process writes the run directory.

Import this module before anything that touches a JAX backend (`jaxrl.run` and brax do at
import time): `jax.distributed.initialize()` must run first.

Example (the same command on every host):

    >>> from jaxrl.distributed import init_distributed
    >>> init_distributed()  # doctest: +SKIP
    >>> from jaxrl.run import run  # now jax.devices() lists every host's devices
"""

from __future__ import annotations

import os

import jax


def init_distributed() -> None:
    """Joins a multi-host job (`jax.distributed.initialize()`; call before any JAX work).

    On Cloud TPU and under SLURM/Open MPI the coordinator is found automatically; elsewhere set
    `JAX_COORDINATOR_ADDRESS` (host:port of process 0), `JAX_NUM_PROCESSES` and
    `JAX_PROCESS_ID` on every host (docs/SWEEPS.md).
    """
    env = os.environ
    kwargs = {}
    if "JAX_COORDINATOR_ADDRESS" in env:
        kwargs = dict(
            coordinator_address=env["JAX_COORDINATOR_ADDRESS"],
            num_processes=int(env["JAX_NUM_PROCESSES"]),
            process_id=int(env["JAX_PROCESS_ID"]),
        )
    jax.distributed.initialize(**kwargs)


def is_writer() -> bool:
    """Whether this process writes the run directory's files (process 0 of a multi-host job)."""
    return jax.process_index() == 0
