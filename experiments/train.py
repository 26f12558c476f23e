"""Train an agent offline, then fine-tune it online.

    python experiments/train.py                                   # the default job
    python experiments/train.py --config=experiments/configs/calql.py --workdir=runs/calql
    python experiments/train.py --config.seeds='(0,1)' --config.agent.beta=10

To resume a stopped or preempted run, rerun the same command with the same --workdir (the
default workdir has a timestamp, so pass --workdir explicitly for jobs you may resume).

Configs (experiments/configs/*.py, each a get_config() returning an ml_collections dict):
  default  IQL on generated halfcheetah-medium, 4 seeds, offline then online (CPU minutes)
  iql      IQL, CORL locomotion settings
  cql      CQL, data appended online
  calql    Cal-QL, 50/50 mixed batches online, calibration kept online
  rlpd     RLPD: SAC from scratch, 50/50 with the dataset, 10 LayerNorm critics, UTD 20
  wsrl     WSRL: CQL pre-training (10 LayerNorm critics), then SAC without retained data,
           frozen-policy warm-up, UTD 4 (4x256 rows per env step)
  riql     RIQL: IQL with a 5-critic quantile target and a Huber loss, for corrupted data
  ro2o     RO2O: SAC-N with smoothness and uncertainty penalties, no retained data online
  awac     AWAC (λ = 1/3), data appended online
  spot     SPOT: VAE pre-training, density-penalised TD3, λ cooled online
  sacn     SAC-N with 10 critics, offline then online
  edac     EDAC: 10 critics, ensemble-gradient diversity η = 1
  bc       BC on the whole dataset
  bc10     10%BC: BC on the best 10% of episodes by discounted return
  td3bc    TD3+BC (α 2.5), its offline loss kept online
  rebrac   ReBRAC: LayerNorm critics, actor and critic BC penalties decayed online
  famo2o   FamO2O on IQL: β-conditioned actor, balance model picks β per state online
  a2pr     A2PR: TD3 with an advantage-filtered VAE and an adaptive masked BC target
  prdc     PRDC: TD3 constrained to the nearest (β·s, a) dataset point, decayed online
  xql      XQL: IQL with a rescaled Gumbel value loss, Huber-20 critics, V → actor → Q
  fdvl     f-DVL: XQL's pipeline with the χ² (or total-variation) value loss
  gpu      the default job at accelerator scale (D4RL sizes, 1M+1M steps, 16 seeds)
  sweep_iql_temperature  IQL β ∈ {1, 3, 10} × 3 seeds as one program (9 runs)

Sweeps: --config.sweep='{"agent.beta": [1, 3, 10], "offline_ratio": [0.25, 0.5]}' runs every
setting for every seed in one program. The runs are split over all devices; for a multi-host
job (TPU slice, several GPU hosts) start the same command on every host with --distributed.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

from absl import app, flags, logging
from ml_collections import config_flags

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _one_line(err: BaseException) -> str:
    """A flag error as one line; ml_collections' unknown field names the nearest one."""
    import re

    text = " ".join(str(err).replace("\\n", " ").replace("\\'", "'").split())
    if not isinstance(err, (AttributeError, KeyError)):
        return text
    near = re.search(r'Did you mean "([\w.]+)" instead of "([\w.]+)"', text)
    if near:
        return f"unknown field {near[2]!r}; did you mean {near[1]!r}?"
    name = re.search(r"(\w+)", text)
    return f"unknown field {name[1] if name else text!r}"


try:  # the config file and its --config.FIELD overrides are read here, at definition
    _CONFIG = config_flags.DEFINE_config_file(
        "config",
        str(ROOT / "experiments/configs/default.py"),
        "Config file (see the list above); any field can be overridden with --config.FIELD=VALUE.",
        lock_config=True,
    )
except (AttributeError, KeyError) as _err:
    sys.exit(f"config error: {_one_line(_err)} (see --help for every field)")
_WORKDIR = flags.DEFINE_string(
    "workdir",
    None,
    "Run directory (default: runs/<algo>-<dataset>-<timestamp>); an existing one is resumed.",
)
_QUIET = flags.DEFINE_bool("quiet", False, "Hide the progress bar.")
_DISTRIBUTED = flags.DEFINE_bool(
    "distributed",
    os.environ.get("JAXRL_DISTRIBUTED", "") == "1",
    "Multi-host job: call jax.distributed.initialize() first (default: $JAXRL_DISTRIBUTED=1).",
)
_ALLOW_CONFIG_CHANGE = flags.DEFINE_bool(
    "allow_config_change",
    False,
    "Resume a --workdir even though the config differs from the one it was started with.",
)


def main(argv):
    del argv
    if _DISTRIBUTED.value:
        from jaxrl.distributed import init_distributed

        init_distributed()  # before any import that starts a JAX backend
    logging.set_verbosity(logging.WARNING)  # brax/mjx log every environment build at INFO
    from jaxrl.checkpoint import CheckpointError
    from jaxrl.config import ConfigError, from_mapping
    from jaxrl.data import DatasetError
    from jaxrl.run import (
        DivergenceError,
        default_workdir,
        enable_compilation_cache,
        format_summary,
        is_writer,
        run,
    )

    try:
        config = from_mapping(_CONFIG.value.to_dict())
    except ConfigError as err:
        sys.exit(f"config error: {err}")
    if _DISTRIBUTED.value and not _WORKDIR.value:
        sys.exit("--distributed needs --workdir (the same path on every host)")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workdir = _WORKDIR.value or str(default_workdir(config, ROOT / "runs", stamp))
    enable_compilation_cache()
    try:
        summary = run(
            config,
            workdir,
            progress=not _QUIET.value,
            allow_config_change=_ALLOW_CONFIG_CHANGE.value,
        )
    except (ConfigError, DatasetError, CheckpointError, DivergenceError) as err:
        sys.exit(f"error: {err}")
    if not is_writer():
        return
    print(format_summary(summary))
    print(f"run directory: {workdir} (summary.json, metrics.jsonl, plots/learning_curve.png)")


def field_comments(cls: type) -> dict[str, str]:
    """Field name -> the comment beside it (or in the comment lines just above it) in `cls`'s
    source, for `cls` and the dataclasses it derives from."""
    import inspect
    import re

    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        above: list[str] = []
        for line in inspect.getsource(klass).splitlines():
            note = re.match(r"\s+#\s*(.*)$", line)
            field = re.match(r"    (\w+): [^#]*?(?:#\s*(.*))?$", line)
            if note:
                above.append(note[1])
                continue
            if field and field[1] not in ("def", "return"):
                comments[field[1]] = field[2] or " ".join(above)
            above = []
    return comments


def help_text(argv: list[str]) -> str:
    """The usage above, then every field of the chosen config with its value and comment."""
    from ml_collections import config_flags as cf

    from jaxrl.agents.registry import AGENTS
    from jaxrl.config import TrainConfig

    path = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
    path = path or str(ROOT / "experiments/configs/default.py")
    config = cf.config_flags._LoadConfigModule("help", path).get_config()
    general, agent = field_comments(TrainConfig), field_comments(AGENTS[config.algo][0])
    lines = [__doc__.rstrip(), "", f"Fields of {path} (algo={config.algo}):"]
    for name, value in config.items():
        if name != "agent":
            lines.append(f"  --config.{name}={value!r}  {general.get(name, '')}".rstrip())
    for name, value in config.agent.items():
        lines.append(f"  --config.agent.{name}={value!r}  {agent.get(name, '')}".rstrip())
    lines += ["", "Other flags: --workdir, --quiet, --distributed, --allow_config_change."]
    return "\n".join(lines)


def parse_flags(argv: list[str]) -> list[str]:
    """absl's flag parsing with plain outcomes: --help lists the fields and exits 0; a bad
    field or value is one line naming it (the nearest field where there is one), exit 1."""
    if any(a in ("--help", "-h", "--helpfull", "--helpshort") for a in argv[1:]):
        print(help_text(argv[1:]))
        sys.exit(0)
    for a in argv[1:]:
        seeds = a.split("=", 1)[1] if a.startswith("--config.seeds=") else ""
        if seeds.strip().isdigit():
            n = int(seeds)
            sys.exit(
                f"config error: --config.seeds={n} is one seed, not a number of seeds: for {n} "
                f"seeds write --config.seeds='({','.join(map(str, range(n)))})', for seed {n} "
                f"alone --config.seeds='({n},)'"
            )
    try:
        return flags.FLAGS(argv)
    except (flags.Error, AttributeError, KeyError) as err:
        sys.exit(f"config error: {_one_line(err)} (see --help for every field)")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
