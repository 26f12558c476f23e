"""Training as a library: the compiled chunks, the programs of a config, and the host loop.

- `chunks`: the compiled offline, online, evaluation and switch programs of one run.
- `programs`: `build(config, dataset) -> Programs` (every program, jit(vmap over the run
  axis), the dataset on the devices), `init_states`, `state_template`; no file I/O.
- `loop`: `train(programs, states, plan, hooks, start) -> (states, History)`, a host loop over
  the plan (`make_plan`) that touches no file; everything that writes is a hook.
- `summary`: a job's scores, IQM and CIs from its metric records.
"""

from jaxrl.training.chunks import (
    TrainState,
    init_train_state,
    make_evaluator,
    make_offline_chunk,
    make_online_chunk,
    make_switch,
)
from jaxrl.training.loop import (
    DivergenceError,
    History,
    Hook,
    PlanItem,
    Progress,
    make_plan,
    train,
)
from jaxrl.training.programs import (
    Programs,
    build,
    build_agent,
    init_states,
    load_dataset,
    prepare_dataset,
    reward_scale,
    state_template,
)
from jaxrl.training.summary import format_summary, summarize

__all__ = [
    "DivergenceError",
    "History",
    "Hook",
    "PlanItem",
    "Programs",
    "Progress",
    "TrainState",
    "build",
    "build_agent",
    "format_summary",
    "init_states",
    "init_train_state",
    "load_dataset",
    "make_evaluator",
    "make_offline_chunk",
    "make_online_chunk",
    "make_plan",
    "make_switch",
    "prepare_dataset",
    "reward_scale",
    "state_template",
    "summarize",
    "train",
]
