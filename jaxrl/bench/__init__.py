"""Throughput of jaxrl's compiled programs: timing, FLOP and memory counts, the benchmark.

- `measure`: compile time, steady-state time, XLA cost-analysis FLOPs and device bytes of a
  compiled program, the matmul peak, the machine;
- `synthetic`: a random device dataset and a placeholder env for the offline programs;
- `presets`: the sizes of a benchmark run and its learner rows;
- `workloads`: each workload (learner, online, offline→online, env, buffer) as a record;
- `peers`: peer libraries run from their own virtual environments;
- `driver`: `run_benchmark` (every workload, in order of importance, within a deadline) and
  `merge_saved`; `report`: the Markdown report (docs/BENCHMARKS.md) and its figure.

`experiments/benchmark.py` is the command line over these.

Example:
    >>> from jaxrl import bench
    >>> from jaxrl.specs import EnvSpec
    >>> tiny = bench.PRESETS["tiny"]
    >>> env = bench.learner_env(EnvSpec(obs_dim=17, action_dim=6))
    >>> ds = bench.synthetic_dataset(tiny.dataset_rows, 17, 6)
    >>> rec = bench.learner_record("iql", "2x16", (16, 16), 1, tiny, env, ds, peak=1e9)
    >>> rec["status"], rec["flops_per_update"] > 0
    ('ok', True)
"""

from jaxrl.bench.driver import merge_saved, run_benchmark
from jaxrl.bench.measure import (
    aot_compile,
    cost_flops,
    lowered_flops,
    machine_info,
    matmul_peak,
    memory_bytes,
    time_calls,
)
from jaxrl.bench.presets import (
    CORE_LEARNERS,
    D3RLPY_ALGOS,
    LEARNERS,
    PRESETS,
    WORKLOADS,
    Preset,
)
from jaxrl.bench.report import LEARNER_COLUMNS, learner_table, plot_runs, verdicts, write_report
from jaxrl.bench.synthetic import learner_env, synthetic_dataset
from jaxrl.bench.workloads import (
    learner_record,
    o2o_config,
    recount_flops,
    update_flops,
)

__all__ = [
    "CORE_LEARNERS",
    "D3RLPY_ALGOS",
    "LEARNERS",
    "LEARNER_COLUMNS",
    "PRESETS",
    "WORKLOADS",
    "Preset",
    "aot_compile",
    "cost_flops",
    "learner_env",
    "learner_record",
    "learner_table",
    "lowered_flops",
    "machine_info",
    "matmul_peak",
    "memory_bytes",
    "merge_saved",
    "o2o_config",
    "plot_runs",
    "recount_flops",
    "run_benchmark",
    "synthetic_dataset",
    "time_calls",
    "update_flops",
    "verdicts",
    "write_report",
]
