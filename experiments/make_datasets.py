"""Build the D4RL-style benchmark suite on Brax into the dataset cache ($JAXRL_DATA).

    python experiments/make_datasets.py                  # halfcheetah and hopper, all six kinds
    python experiments/make_datasets.py --tasks=halfcheetah --kinds=medium,expert --preset=cpu
    python experiments/make_datasets.py --datasets=hopper-medium-v0,hopper-expert-v0
    python experiments/make_datasets.py --tasks=halfcheetah,hopper,walker2d,ant --kinds=all \
        --preset=d4rl                                                     # 1M transitions

Kinds: random, medium, expert, medium-replay, medium-expert, full-replay (`<task>-<kind>-v0`).
Each task's SAC run is cached, so the kinds of a task after the first are rollouts or slices
of its replay buffer. `--preset=auto` (the default) is `d4rl` (D4RL sizes, 1M transitions) on
an accelerator and `cpu` (100k transitions, minutes per task) on a CPU-only machine. The `cpu`
preset is stored at the cache root under the bare names; other presets and seeds go to
sub-directories (see `jaxrl.data.suite`). Cached datasets are verified against their
manifest's SHA-256 and kept; `--force` rebuilds them.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from absl import app, flags, logging

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_DATASETS = flags.DEFINE_list("datasets", [], "Dataset names to build (overrides tasks/kinds).")
_TASKS = flags.DEFINE_list("tasks", ["halfcheetah", "hopper"], "Tasks whose suite to build.")
_KINDS = flags.DEFINE_list("kinds", ["all"], "Kinds to build per task, or 'all'.")
_PRESET = flags.DEFINE_enum(
    "preset", "auto", ["auto", "cpu", "d4rl", "tiny"], "Size preset (auto: d4rl on GPU/TPU)."
)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the SAC run and the rollouts.")
_FORCE = flags.DEFINE_bool("force", False, "Rebuild datasets that are already cached.")


def dataset_names(tasks, kinds) -> list[str]:
    """`<task>-<kind>-v0` for every task and kind, tasks outermost."""
    from jaxrl.data import generate

    kinds = generate.KINDS if list(kinds) == ["all"] else kinds
    return [f"{t}-{k}-v0" for t in tasks for k in kinds]


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # brax/mjx log every environment build at INFO
    import jax
    from tqdm import tqdm

    from jaxrl.data import generate, suite
    from jaxrl.run import enable_compilation_cache

    enable_compilation_cache()
    preset = _PRESET.value
    if preset == "auto":
        preset = "cpu" if jax.default_backend() == "cpu" else "d4rl"
    names = _DATASETS.value or dataset_names(_TASKS.value, _KINDS.value)
    for name in names:
        try:
            generate.parse_name(name)
        except ValueError as err:
            sys.exit(str(err))
    print(
        f"preset {preset!r}, seed {_SEED.value}: {len(names)} datasets into "
        f"{suite.suite_dir(preset, _SEED.value)}"
    )
    bar = tqdm(names, unit="dataset", dynamic_ncols=True)
    for name in bar:
        bar.set_description(name)
        cached = not _FORCE.value and suite.is_cached(name, preset, _SEED.value)
        t0 = time.time()
        path = generate.generate(name, preset=preset, seed=_SEED.value, force=_FORCE.value)
        m = json.loads(suite.manifest_path(path).read_text())
        what = "cached" if cached else f"built in {time.time() - t0:.0f} s"
        tqdm.write(
            f"{name}: {what}; {m['size']:,} transitions, {m['episodes']} episodes, "
            f"normalized score {m['data_normalized_score']:.1f} -> {path}"
        )


if __name__ == "__main__":
    app.run(main)
