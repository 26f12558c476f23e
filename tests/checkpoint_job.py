"""A tiny offline→online job that SIGKILLs itself at a chosen point (for test_checkpoint.py).

    python tests/checkpoint_job.py WORKDIR DATASET KILL_POINT

KILL_POINT is one of
  offline  after the second offline chunk's metrics are written, before its checkpoint;
  switch   right after the checkpoint taken at the offline→online switch is complete;
  write    inside the background write of the first online checkpoint (files half written);
  none     no kill.
The process kills itself with SIGKILL, so nothing (no finally, no atexit, no orbax
cleanup) runs: the same as a preemption.
"""

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def job_config(dataset: str, **fields):
    """The job of test_checkpoint.py: 4 seeds, 2 offline + 2 online chunks, a checkpoint each."""
    from tests.helpers import tiny_config

    values = dict(
        dataset=dataset,
        seeds=(0, 1, 2, 3),
        checkpoint_every=1,
        checkpoint_interval_s=0.0,
        keep_checkpoints=10,
    )
    return tiny_config("iql", **{**values, **fields})


def _die():
    os.kill(os.getpid(), signal.SIGKILL)


def main(workdir: str, dataset: str, kill_point: str) -> None:
    from jaxrl import checkpoint
    from jaxrl.logging import MetricWriter
    from jaxrl.run import enable_compilation_cache, run

    enable_compilation_cache(os.environ.get("JAXRL_COMPILE_CACHE"))
    config = job_config(dataset)
    n_off = config.offline_steps // config.chunk_length
    if kill_point == "offline":
        write, calls = MetricWriter.write, []

        def write_then_die(self, records):
            write(self, records)
            calls.append(1)
            if len(calls) == n_off:
                _die()

        MetricWriter.write = write_then_die
    elif kill_point == "switch":
        save = checkpoint.Checkpointer.save

        def save_then_die(self, step, states, meta):
            save(self, step, states, meta)
            if step == n_off:
                self.wait()
                _die()

        checkpoint.Checkpointer.save = save_then_die
    elif kill_point == "write":
        from orbax.checkpoint._src.handlers import json_checkpoint_handler as jh

        save_fn = jh.JsonCheckpointHandler._save_fn

        async def write_then_die(self, x, directory):
            await save_fn(self, x, directory)
            if x.get("chunks_done") == n_off + 1:
                _die()

        jh.JsonCheckpointHandler._save_fn = write_then_die
    run(config, workdir, progress=False)


if __name__ == "__main__":
    main(*sys.argv[1:4])
