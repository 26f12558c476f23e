"""One process of a two-process `jax.distributed` job on this machine (for test_sweep.py).

    XLA_FLAGS=--xla_force_host_platform_device_count=2 \
    JAX_COORDINATOR_ADDRESS=127.0.0.1:PORT JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=I \
        python tests/multihost_job.py OUT DATASET

Both processes run the sweep of `sweep_job.sweep_config` (2 seeds × 4 settings) on the same
work directory, the run axis split over the 4 devices of the two processes (2 each), as on two
hosts. Each process writes OUT/process_I.npz with the final parameters and evaluation returns
of every run (gathered from both processes) and OUT/process_I.json with what it saw: process
index and count, global and local device counts, whether it is the writer, and the final
scores of the summary that `run` returned (the writer's only).
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(out: str, dataset: str) -> None:
    from jaxrl.distributed import init_distributed, is_writer

    init_distributed()  # before anything touches a backend

    import jax
    import numpy as np

    from jaxrl import run as run_lib
    from tests.sweep_job import sweep_config

    out = Path(out)
    final = {}

    def on_eval(step, states, returns, _final=final):
        _final["params"] = run_lib._fetch(states.agent.params)
        _final["returns"] = np.asarray(returns)

    summary = run_lib.run(sweep_config(dataset), out / "multihost", progress=False, on_eval=on_eval)
    index = jax.process_index()
    leaves = jax.tree.leaves(final["params"])
    np.savez(
        out / f"process_{index}.npz",
        params=np.concatenate([np.asarray(x).reshape(x.shape[0], -1) for x in leaves], 1),
        returns=final["returns"],
    )
    info = {
        "process_index": index,
        "process_count": jax.process_count(),
        "devices": len(jax.devices()),
        "local_devices": len(jax.local_devices()),
        "writer": is_writer(),
        # run() returns the summary on the writer only (the others return {}).
        "final_scores": [r["final_score"] for r in summary["runs"]] if summary else None,
    }
    (out / f"process_{index}.json").write_text(json.dumps(info))


if __name__ == "__main__":
    main(*sys.argv[1:3])
