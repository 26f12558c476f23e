"""A tiny sweep run on several device layouts of one process (for test_sweep.py).

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python tests/sweep_job.py OUT DATASET

Runs the sweep of `sweep_config` (2 seeds × 4 settings) split over 4 devices, over 3 devices
(padded to 9 runs) and on 1 device, each in its own workdir under OUT, and writes OUT/result.npz
with every layout's final parameters and evaluation returns per run, plus OUT/result.json with
the compile counts (XLA compilations per program, from JAX's compile log), the output
shardings and a check of the checkpoint restored under the run-axis split. The device count
must be fixed before jax is imported, hence a subprocess.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SWEEP = {"agent.beta": (1.0, 10.0), "offline_ratio": (0.25, 0.75)}


class CompileCounter:
    """Counts XLA compilations by program name from JAX's compile log (`jax_log_compiles`).

    `jit(...)._cache_size()` counts dispatch-cache entries, which can exceed the number of
    compilations (two argument signatures may map to one executable), so the tests count the
    compilations themselves.
    """

    def __init__(self):
        import collections
        import logging
        import re

        self.counts = collections.Counter()
        pattern = re.compile(r"^Compiling jit\((\w+)\)")
        counter = self

        class Handler(logging.Handler):
            def emit(self, record):
                m = pattern.match(record.getMessage())
                if m:
                    counter.counts[m.group(1)] += 1

        self.handler = Handler(level=logging.DEBUG)
        self.logger = logging.getLogger("jax._src.interpreters.pxla")

    def __enter__(self):
        import jax

        jax.config.update("jax_log_compiles", True)
        self.logger.addHandler(self.handler)
        self.counts.clear()
        return self.counts

    def __exit__(self, *exc):
        import jax

        self.logger.removeHandler(self.handler)
        jax.config.update("jax_log_compiles", False)
        return False


def sweep_config(dataset: str, **fields):
    """2 seeds × 4 settings of tiny IQL on inverted_pendulum; 2 offline, 2 online chunks."""
    from tests.helpers import tiny_config

    values = dict(
        dataset=dataset,
        task="inverted_pendulum",
        seeds=(0, 1),
        sweep=SWEEP,
        retention="mixed",
        keep_checkpoints=1,
        checkpoint_every=0,
        checkpoint_interval_s=0.0,
    )
    return tiny_config("iql", **{**values, **fields})


def main(out: str, dataset: str) -> None:
    import jax
    import numpy as np

    from jaxrl import run as run_lib
    from jaxrl.checkpoint import Checkpointer

    out = Path(out)
    devices = jax.devices()
    assert len(devices) == 4, devices
    config = sweep_config(dataset)
    result, arrays = {}, {}
    for name, devs in (("dev4", devices), ("dev1", devices[:1]), ("dev3", devices[:3])):
        built_box, final = [], {}
        build = run_lib.build

        def capture(*args, _build=build, _box=built_box, **kwargs):
            _box.append(_build(*args, **kwargs))
            return _box[-1]

        def on_eval(step, states, returns, _final=final):
            _final["params"] = jax.device_get(states.agent.params)
            _final["hparams"] = jax.device_get(states.agent.hparams)
            _final["returns"] = np.asarray(returns)
            _final["sharding"] = states.grad_steps.sharding

        run_lib.build = capture
        try:
            with CompileCounter() as compiled:
                summary = run_lib.run(
                    config, out / name, progress=False, devices=devs, on_eval=on_eval
                )
        finally:
            run_lib.build = build
        built = built_box[0]
        leaves = jax.tree.leaves(final["params"])
        arrays[f"{name}_params"] = np.concatenate([x.reshape(x.shape[0], -1) for x in leaves], 1)
        arrays[f"{name}_returns"] = final["returns"]
        arrays[f"{name}_beta"] = final["hparams"].beta
        info = {
            "summary": summary,
            "run_axis": len(built.runs),
            "cache_entries": {
                k: getattr(built, k)._cache_size()
                for k in ("offline_chunk", "online_chunk", "evaluate", "switch")
            },
            # The offline and online chunks are both `guarded` (chunks.make_offline_chunk).
            "compiles": {k: compiled[k] for k in ("guarded", "evaluate", "switch")},
            "state_sharded": final["sharding"] == built.state_sharding,
            "state_devices": len(final["sharding"].device_set),
            "dataset_replicated": built.dataset.reward.sharding.is_fully_replicated
            and len(built.dataset.reward.sharding.device_set) == len(devs),
        }
        if name == "dev4":
            # The last checkpoint, restored straight into the run-axis split.
            template = run_lib.state_template(
                config, built.agent, built.env, len(built.runs), built.state_sharding
            )
            ckpt = Checkpointer(out / name, keep=1)
            step, states, meta = ckpt.restore_latest(template)
            ckpt.close()
            restored = jax.device_get(states.agent.params)
            info["restored_sharding_mismatch"] = [
                f"{jax.tree_util.keystr(path)}: {x.sharding}"
                for path, x in jax.tree_util.tree_leaves_with_path(states)
                if not x.sharding.is_equivalent_to(built.state_sharding, x.ndim)
            ]
            info["restored_equal"] = all(
                np.array_equal(a, b)
                for a, b in zip(
                    jax.tree.leaves(restored), jax.tree.leaves(final["params"]), strict=True
                )
            )
            info["restored_meta_run_axis"] = meta["run_axis"]
            # Rerunning a finished workdir resumes from that checkpoint and rewrites the summary.
            again = run_lib.run(config, out / name, progress=False, devices=devs)
            info["resumed_summary_equal"] = again["runs"] == summary["runs"]
        result[name] = info
        np.savez(out / "result.npz", **arrays)  # after every layout, for a partial look
        (out / "result.json").write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    main(*sys.argv[1:3])
