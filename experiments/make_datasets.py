"""Generate D4RL-style datasets on Brax into the dataset cache ($JAXRL_DATA).

    python experiments/make_datasets.py                                   # halfcheetah medium
    python experiments/make_datasets.py --datasets=hopper-medium-v0,hopper-expert-v0
    python experiments/make_datasets.py --preset=d4rl                     # 1M transitions

Each task's SAC run is cached, so further kinds of the same task are rollouts only.
Available kinds: random, medium, expert (<task>-<kind>-v0).
"""

from __future__ import annotations

import sys
from pathlib import Path

from absl import app, flags, logging

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_DATASETS = flags.DEFINE_list("datasets", ["halfcheetah-medium-v0"], "Dataset names to build.")
_PRESET = flags.DEFINE_enum("preset", "cpu", ["cpu", "d4rl", "tiny"], "Size preset.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the SAC run and the rollouts.")
_FORCE = flags.DEFINE_bool("force", False, "Rebuild datasets that are already cached.")


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # brax/mjx log every environment build at INFO
    from jaxrl.data import data_dir, generate
    from jaxrl.run import enable_compilation_cache

    enable_compilation_cache()
    for name in _DATASETS.value:
        try:
            generate.parse_name(name)
        except ValueError as err:
            sys.exit(str(err))
        path = data_dir() / f"{name}.hdf5"
        if path.exists() and not _FORCE.value:
            print(f"{name}: cached at {path} (use --force to rebuild)")
            continue
        path = generate.generate(name, preset=_PRESET.value, seed=_SEED.value)
        print(f"{name}: wrote {path}")


if __name__ == "__main__":
    app.run(main)
