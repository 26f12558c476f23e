"""Same-input parity with the authors' code: jaxrl's update against the reference's own.

For an algorithm and a local checkout of its reference repository, this starts both from the
same parameters (jaxrl's initialization, converted to the reference's parameter layout), feeds
both the same batches and the same random draws, runs K updates in each, and reports per step
the largest absolute difference of every loss, and of every parameter after steps 1 and K. The
reference runs in its own virtual environment (`experiments/peers/setup.sh torch`), from its
unmodified source file, driven by a runner in `experiments/parity_refs/` that imports it with
its training-only imports (d4rl, gym, wandb, pyrallis) stubbed out.

Usage (the reference is cloned by the user; docs/PARITY.md gives the URL and the commit):

    bash experiments/peers/setup.sh torch
    git clone https://github.com/corl-team/CORL /tmp/CORL && git -C /tmp/CORL checkout eeeeef2
    python experiments/parity.py td3bc --reference /tmp/CORL --steps 100
    python experiments/parity.py awac --reference /tmp/CORL --steps 100
    python experiments/parity.py sacn --reference /tmp/CORL --steps 100 [--match corl_tanh_log_det]

The conversion between parameter trees is tested in CI (tests/test_parity.py) against a
stand-in reference written in the test; the harness itself is an experiment, not a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONTROL_PERTURBATION = 1e-7  # about one float32 rounding (2^-23 ≈ 1.2e-7)
PEERS_DIR = Path(os.environ.get("PEERS_DIR", Path.home() / ".cache" / "jaxrl" / "peers"))


@dataclasses.dataclass(frozen=True)
class Reference:
    """One reference implementation that the harness can drive."""

    algo: str  # jaxrl's algorithm name
    repo: str  # GitHub owner/name
    commit: str  # the commit the runner was written against
    source: str  # the file of the update, inside the repository
    runner: str  # the runner script, in experiments/parity_refs/
    venv: str  # the peer venv it runs in (experiments/peers/setup.sh)
    agent: dict[str, Any]  # jaxrl agent fields that match the reference's defaults
    draws: str  # how jaxrl's update turns its key into normals: a name in `DRAWS`
    modules: str  # how jaxrl's parameters map onto the reference's modules: in `MODULES`
    obs_dim: int = 17  # halfcheetah's sizes
    action_dim: int = 6
    batch_size: int = 256
    losses: tuple[str, ...] = ("critic_loss", "actor_loss")  # compared, by jaxrl's names
    reference_agent: dict[str, Any] = dataclasses.field(default_factory=dict)  # runner-only


REFERENCES = {
    "td3bc": Reference(
        algo="td3bc",
        repo="corl-team/CORL",
        commit="eeeeef2671",
        source="algorithms/offline/td3_bc.py",
        runner="corl_td3bc.py",
        venv="torch",
        draws="td3bc",
        modules="td3bc",
        agent={
            "actor_hidden_dims": (256, 256),
            "critic_hidden_dims": (256, 256),
            "num_critics": 2,
            "alpha": 2.5,
            "policy_delay": 2,
            "one_based_delay": True,  # `self.total_it += 1` before `total_it % policy_freq`
            "policy_noise": 0.2,
            "noise_clip": 0.5,
            "discount": 0.99,
            "tau": 0.005,
            "actor_lr": 3e-4,
            "critic_lr": 3e-4,
        },
    ),
    "awac": Reference(
        algo="awac",
        repo="corl-team/CORL",
        commit="eeeeef2671",
        source="algorithms/finetune/awac.py",
        runner="corl_awac.py",
        venv="torch",
        draws="awac",
        modules="awac",
        agent={
            "actor_hidden_dims": (256, 256, 256),
            "critic_hidden_dims": (256, 256, 256),
            "num_critics": 2,
            "awac_lambda": 1.0 / 3.0,
            "max_weight": 100.0,
            "log_std_min": -20.0,
            "log_std_max": 2.0,
            "discount": 0.99,
            "tau": 0.005,
            "actor_lr": 3e-4,
            "critic_lr": 3e-4,
        },
    ),
    "iql": Reference(
        algo="iql",
        repo="ikostrikov/implicit_q_learning",
        commit="09d7002",
        source="learner.py",
        runner="ikostrikov_iql.py",
        venv="jax",
        draws="none",
        modules="iql_ikostrikov",
        losses=("critic_loss", "value_loss", "actor_loss"),
        agent={
            "hidden_dims": (256, 256),
            "num_critics": 2,
            "expectile": 0.7,  # configs/mujoco_config.py
            "beta": 3.0,  # its `temperature`
            "max_weight": 100.0,
            "discount": 0.99,
            "tau": 0.005,
            "actor_lr": 3e-4,
            "critic_lr": 3e-4,
            "value_lr": 3e-4,
            "critic_loss": "mse_sum",  # ((q1 − y)² + (q2 − y)²).mean()
            "update_order": "value_first",  # V, then the actor and Q on the new V
            "log_std_min": -5.0,  # Learner(log_std_min=-5.0)
            # train_offline.py: optax.cosine_decay_schedule(-actor_lr, max_steps); a short
            # period here, so that the schedule itself is compared within the run
            "actor_lr_schedule": "cosine_decay",
            "actor_lr_decay_steps": 150,
        },
    ),
    "sacn": Reference(
        algo="sacn",
        repo="corl-team/CORL",
        commit="eeeeef2671",
        source="algorithms/offline/sac_n.py",
        runner="corl_sacn.py",
        venv="torch",
        draws="sacn",
        modules="sacn",
        agent={
            "actor_hidden_dims": (256, 256, 256),
            "critic_hidden_dims": (256, 256, 256),
            "num_critics": 10,
            "log_std_min": -5.0,
            "log_std_max": 2.0,
            "init_temperature": 1.0,
            "discount": 0.99,
            "tau": 0.005,
            "actor_lr": 3e-4,
            "critic_lr": 3e-4,
            "temperature_lr": 3e-4,
        },
    ),
}


# --- parameter layouts ------------------------------------------------------------------------


def mlp_dense_layers(params: dict) -> list[dict]:
    """The Dense layers of a jaxrl MLP-with-head module in forward order: `MLP_0/Dense_i`,
    then the head `Dense_0` (a `DeterministicPolicy` or one `QNetwork`). LayerNorm-free."""
    inner = params["params"] if "params" in params else params
    hidden = inner["MLP_0"]
    if any(not name.startswith("Dense_") for name in hidden):
        raise ValueError(f"only Dense hidden layers convert; found {sorted(hidden)}")
    layers = [hidden[f"Dense_{i}"] for i in range(len(hidden))]
    return layers + [inner["Dense_0"]]


def to_torch_sequential(params: dict, prefix: str = "net") -> dict[str, np.ndarray]:
    """A jaxrl MLP (hidden Dense → ReLU …, head Dense) as the state dict of a PyTorch
    `nn.Sequential(Linear, ReLU, …, Linear[, Tanh])` attribute `prefix` (CORL's TD3+BC `net`,
    AWAC `_mlp`): layer i is `{prefix}.{2i}`, its weight the transposed kernel ([out, in]
    against flax's [in, out])."""
    out = {}
    for i, layer in enumerate(mlp_dense_layers(params)):
        out.update(torch_linear(layer, f"{prefix}.{2 * i}"))
    return out


def torch_linear(layer: dict, name: str) -> dict[str, np.ndarray]:
    """One flax Dense as PyTorch's `Linear` `name`: weight = kernelᵀ ([out, in])."""
    return {
        f"{name}.weight": np.ascontiguousarray(np.asarray(layer["kernel"]).T),
        f"{name}.bias": np.asarray(layer["bias"]),
    }


def from_torch_sequential(state: dict[str, np.ndarray], like: dict, prefix: str = "net") -> dict:
    """The inverse of `to_torch_sequential`, into the structure of the jaxrl tree `like`."""
    n = len(mlp_dense_layers(like))
    names = [f"MLP_0/Dense_{i}" for i in range(n - 1)] + ["Dense_0"]
    expected = {f"{prefix}.{2 * i}.{p}" for i in range(n) for p in ("weight", "bias")}
    if set(state) != expected:
        raise ValueError(f"state dict keys {sorted(state)} are not {sorted(expected)}")
    inner: dict = {"MLP_0": {}}
    for i, name in enumerate(names):
        layer = {
            "kernel": np.asarray(state[f"{prefix}.{2 * i}.weight"]).T,
            "bias": np.asarray(state[f"{prefix}.{2 * i}.bias"]),
        }
        if name.startswith("MLP_0/"):
            inner["MLP_0"][name.split("/")[1]] = layer
        else:
            inner[name] = layer
    return {"params": inner} if "params" in like else inner


def ensemble_to_torch(params: dict, prefix: str = "net") -> list[dict[str, np.ndarray]]:
    """A jaxrl `QEnsemble` (leaves stacked on axis 0) as one state dict per critic."""
    inner = params["params"]["VmapQNetwork_0"]
    num = np.asarray(inner["Dense_0"]["kernel"]).shape[0]
    return [to_torch_sequential({"params": _index_tree(inner, j)}, prefix) for j in range(num)]


def ensemble_from_torch(
    states: list[dict[str, np.ndarray]], like: dict, prefix: str = "net"
) -> dict:
    """The inverse of `ensemble_to_torch`."""
    one = {"params": _index_tree(like["params"]["VmapQNetwork_0"], 0)}
    trees = [from_torch_sequential(s, one, prefix)["params"] for s in states]
    stacked = _stack_trees(trees)
    return {"params": {"VmapQNetwork_0": stacked}}


def _index_tree(tree, j):
    if isinstance(tree, dict):
        return {k: _index_tree(v, j) for k, v in tree.items()}
    return np.asarray(tree)[j]


def _stack_trees(trees):
    if isinstance(trees[0], dict):
        return {k: _stack_trees([t[k] for t in trees]) for k in trees[0]}
    return np.stack([np.asarray(t) for t in trees])


def max_abs_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """Largest |a − b| over the arrays of two state dicts with the same keys."""
    if set(a) != set(b):
        raise ValueError(f"different keys: {sorted(set(a) ^ set(b))}")
    return max(float(np.max(np.abs(np.asarray(a[k]) - np.asarray(b[k])))) for k in a)


def diff_profile(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, Any]:
    """Where two state dicts differ: the largest |a − b|, the tensor holding it, and the share
    of all entries that differ by more than 1e-5."""
    diffs = {k: np.abs(np.asarray(a[k]) - np.asarray(b[k])) for k in a}
    worst = max(diffs, key=lambda k: float(diffs[k].max()))
    total = sum(d.size for d in diffs.values())
    over = sum(int((d > 1e-5).sum()) for d in diffs.values())
    return {"max": float(diffs[worst].max()), "at": worst, "share_over_1e-5": over / total}


# --- the jaxrl side -------------------------------------------------------------------------


def make_inputs(ref: Reference, steps: int, seed: int = 0) -> dict[str, np.ndarray]:
    """`steps` random batches (halfcheetah-sized; 10 % terminal), batch k drawn from its own
    generator, so the first k batches do not depend on `steps`."""
    b, s, a = ref.batch_size, ref.obs_dim, ref.action_dim
    batches = []
    for k in range(steps):
        rng = np.random.default_rng([seed, k])
        batches.append(
            {
                "obs": rng.normal(size=(b, s)),
                "action": rng.uniform(-0.99, 0.99, (b, a)),
                "reward": rng.normal(size=b),
                "terminated": rng.random(b) < 0.1,
                "next_obs": rng.normal(size=(b, s)),
            }
        )
    return {k: np.stack([x[k] for x in batches]).astype(np.float32) for k in batches[0]}


def td3bc_draws(key, ref: Reference) -> np.ndarray:
    """TD3+BC's one draw per step: the update hands its key to `td3.smoothed_target_action`,
    `jax.random.normal(key, (B, |A|))`; CORL draws it with `torch.randn_like(action)`."""
    import jax

    return np.asarray(jax.random.normal(key, (ref.batch_size, ref.action_dim)))[None]


def awac_draws(key, ref: Reference) -> np.ndarray:
    """AWAC's two draws per step, in CORL's order: the critic target's action sample at s'
    (`critic_key`), then the actor loss's at s (`actor_key`), each `jax.random.normal(k,
    (B, |A|))` in `awac.losses.sample_clipped`; CORL's `Normal.rsample` draws them."""
    import jax

    critic_key, actor_key = jax.random.split(key)
    shape = (ref.batch_size, ref.action_dim)
    return np.stack([np.asarray(jax.random.normal(k, shape)) for k in (critic_key, actor_key)])


def td3bc_modules(params: dict, targets: dict) -> dict[str, dict[str, np.ndarray]]:
    """jaxrl TD3+BC parameters as CORL's modules: actor, critic_1, critic_2 and targets."""
    critics = ensemble_to_torch(params["critic"])
    target_critics = ensemble_to_torch(targets["critic"])
    return {
        "actor": to_torch_sequential(params["actor"]),
        "critic_1": critics[0],
        "critic_2": critics[1],
        "actor_target": to_torch_sequential(targets["actor"]),
        "critic_1_target": target_critics[0],
        "critic_2_target": target_critics[1],
    }


def awac_modules(params: dict, targets: dict) -> dict[str, dict[str, np.ndarray]]:
    """jaxrl AWAC parameters as CORL's: `_actor` (its `_mlp` and the state-independent
    `_log_std`), `_critic_1`, `_critic_2` and their targets."""
    actor = to_torch_sequential(params["actor"], "_mlp")
    actor["_log_std"] = np.asarray(params["actor"]["params"]["log_std"])
    critics = ensemble_to_torch(params["critic"], "_mlp")
    target_critics = ensemble_to_torch(targets["critic"], "_mlp")
    return {
        "_actor": actor,
        "_critic_1": critics[0],
        "_critic_2": critics[1],
        "_target_critic_1": target_critics[0],
        "_target_critic_2": target_critics[1],
    }


def sacn_draws(key, ref: Reference) -> np.ndarray:
    """SAC-N's three draws per step, in CORL's order: the temperature loss's action at s
    (`alpha_key`), the actor loss's at s (`actor_key`), the critic target's at s'
    (`target_key`), each `jax.random.normal(k, (B, |A|))` in `tanh_gaussian_sample`."""
    import jax

    shape = (ref.batch_size, ref.action_dim)
    return np.stack([np.asarray(jax.random.normal(k, shape)) for k in jax.random.split(key, 3)])


def vectorized_critic_to_torch(params: dict, prefix: str = "critic") -> dict[str, np.ndarray]:
    """A jaxrl `QEnsemble` as CORL's `VectorizedCritic`: `VectorizedLinear` layers
    `{prefix}.{2i}` hold the stacked kernels as they are ([E, in, out], no transpose) and the
    biases as [E, 1, out]."""
    inner = params["params"]["VmapQNetwork_0"]
    hidden = inner["MLP_0"]
    layers = [hidden[f"Dense_{i}"] for i in range(len(hidden))] + [inner["Dense_0"]]
    out = {}
    for i, layer in enumerate(layers):
        out[f"{prefix}.{2 * i}.weight"] = np.asarray(layer["kernel"])
        out[f"{prefix}.{2 * i}.bias"] = np.asarray(layer["bias"])[:, None, :]
    return out


def sacn_modules(params: dict, targets: dict) -> dict[str, dict[str, np.ndarray]]:
    """jaxrl SAC-N parameters as CORL's: the actor (`trunk`, the `mu` and `log_sigma` heads),
    the vectorized critic and its target, and `log_alpha` (jaxrl's temperature leaf is log α)."""
    inner = params["actor"]["params"]
    actor = {}
    for i in range(len(inner["MLP_0"])):
        actor.update(torch_linear(inner["MLP_0"][f"Dense_{i}"], f"trunk.{2 * i}"))
    actor.update(torch_linear(inner["Dense_0"], "mu"))
    actor.update(torch_linear(inner["Dense_1"], "log_sigma"))
    return {
        "actor": actor,
        "critic": vectorized_critic_to_torch(params["critic"]),
        "target_critic": vectorized_critic_to_torch(targets["critic"]),
        "log_alpha": {"value": np.asarray(params["temperature"], np.float32).reshape(1)},
    }


def no_draws(key, ref: Reference) -> np.ndarray:
    """An update that draws nothing (IQL without dropout): no normals to feed."""
    del key
    return np.zeros((0, ref.batch_size, ref.action_dim), np.float32)


# --- flax references: parameters as "path/to/leaf" of the reference's own module tree ------


def flax_mlp(layers: list[dict], name: str = "MLP_0") -> dict[str, np.ndarray]:
    """Dense layers as one flax `MLP` submodule `name` of `Dense_i` layers (kernels [in, out]
    as flax keeps them), flattened to "name/Dense_i/kernel" paths."""
    out = {}
    for i, layer in enumerate(layers):
        for leaf in ("kernel", "bias"):
            out[f"{name}/Dense_{i}/{leaf}"] = np.asarray(layer[leaf])
    return out


def ikostrikov_double_critic(params: dict) -> dict[str, np.ndarray]:
    """A jaxrl twin `QEnsemble` as implicit_q_learning's `DoubleCritic`: `Critic_j/MLP_0`
    of 2 hidden layers and the head, `MLP((*hidden_dims, 1))`."""
    inner = params["params"]["VmapQNetwork_0"]
    out = {}
    for j in range(np.asarray(inner["Dense_0"]["kernel"]).shape[0]):
        layers = mlp_dense_layers({"params": _index_tree(inner, j)})
        out.update({f"Critic_{j}/{k}": v for k, v in flax_mlp(layers).items()})
    return out


def iql_ikostrikov_modules(params: dict, targets: dict) -> dict[str, dict[str, np.ndarray]]:
    """jaxrl IQL parameters as implicit_q_learning's: the `NormalTanhPolicy` (`MLP_0`, the
    mean head `Dense_0`, the state-independent `log_stds`), the `DoubleCritic`, the
    `ValueCritic` (`MLP_0` with the head as its last Dense) and the target critic."""
    actor = flax_mlp(mlp_dense_layers(params["actor"])[:-1])
    head = params["actor"]["params"]["Dense_0"]
    actor.update({"Dense_0/kernel": np.asarray(head["kernel"]), "Dense_0/bias": head["bias"]})
    actor["log_stds"] = np.asarray(params["actor"]["params"]["log_std"])
    return {
        "actor": {k: np.asarray(v) for k, v in actor.items()},
        "critic": ikostrikov_double_critic(params["critic"]),
        "value": flax_mlp(mlp_dense_layers(params["value"])),
        "target_critic": ikostrikov_double_critic(targets["critic"]),
    }


DRAWS = {"td3bc": td3bc_draws, "awac": awac_draws, "sacn": sacn_draws, "none": no_draws}
MODULES = {
    "td3bc": td3bc_modules,
    "awac": awac_modules,
    "sacn": sacn_modules,
    "iql_ikostrikov": iql_ikostrikov_modules,
}


def run_jaxrl(ref: Reference, inputs: dict, steps: int, seed: int = 0, perturb: float = 0.0):
    """jaxrl's update from its own initialization for `steps` updates on `inputs`.

    Step k's key is `fold_in(key(seed + 1), k)`; `DRAWS[ref.draws]` gives the normals the
    update draws from it, which the reference is fed in place of its own. `perturb` scales
    every initial parameter by (1 + perturb): the control run, jaxrl against itself moved by
    about one float32 rounding, shows how far rounding alone drifts in K steps (`compare` also
    runs the second control: every batch's floats moved by (1 + perturb), a rounding-sized
    difference entering at every step, as a second implementation's rounding does).
    """
    import jax
    import jax.numpy as jnp

    from jaxrl.agents.base import dynamic_names, hparams_class
    from jaxrl.agents.registry import agent_config, make_agent
    from jaxrl.specs import EnvSpec
    from jaxrl.types import Transition

    config = agent_config(ref.algo, ref.agent)
    agent = make_agent(ref.algo, config, EnvSpec(ref.obs_dim, ref.action_dim))
    hparams = None
    if jax.config.jax_enable_x64:  # `--x64`: the hyperparameters from their Python values
        names = dynamic_names(config)
        values = {n: jnp.asarray(getattr(config, n), jnp.float64) for n in names}
        hparams = hparams_class(type(config))(**values)
    state = agent.init(jax.random.key(seed), hparams)
    if jax.config.jax_enable_x64:  # and every other float of the state in float64
        state = jax.tree.map(
            lambda x: x.astype(jnp.float64) if jnp.issubdtype(x.dtype, jnp.floating) else x, state
        )
    if perturb:
        moved = jax.tree.map(lambda x: x * (1.0 + perturb), state.params)
        state = state.replace(
            params=moved, target_params={k: moved[k] for k in state.target_params}
        )
    initial = jax.device_get((state.params, state.target_params))
    update = jax.jit(agent.update)
    keys = [jax.random.fold_in(jax.random.key(seed + 1), k) for k in range(steps)]
    noise = np.stack([DRAWS[ref.draws](k, ref) for k in keys])
    losses, after = [], {}
    for k in range(steps):
        batch = Transition(
            obs=jnp.asarray(inputs["obs"][k]),
            action=jnp.asarray(inputs["action"][k]),
            reward=jnp.asarray(inputs["reward"][k]),
            terminated=jnp.asarray(inputs["terminated"][k]),
            truncated=jnp.zeros(ref.batch_size),
            next_obs=jnp.asarray(inputs["next_obs"][k]),
            mc_return=jnp.zeros(ref.batch_size),
        )
        state, metrics = update(state, batch, keys[k])
        losses.append({name: float(metrics[name]) for name in ref.losses})
        if k + 1 in (1, steps):
            after[k + 1] = jax.device_get((state.params, state.target_params))
    return {"initial": initial, "noise": noise, "losses": losses, "after": after}


# --- the reference side -----------------------------------------------------------------------


def _save_npz(path: Path, tree: dict[str, dict[str, np.ndarray]], **arrays) -> None:
    flat = {f"{m}::{k}": v for m, sd in tree.items() for k, v in sd.items()}
    np.savez(path, **flat, **arrays)


def _load_modules(path: Path) -> dict[str, dict[str, np.ndarray]]:
    out: dict[str, dict[str, np.ndarray]] = {}
    with np.load(path) as f:
        for key in f.files:
            if "::" in key:
                module, name = key.split("::", 1)
                out.setdefault(module, {})[name] = f[key]
    return out


def run_reference(
    ref: Reference, checkout: Path, python: Path, init, inputs, noise, steps, x64: bool = False
):
    """Runs the reference's runner in its venv; returns its per-step losses and state dicts."""
    source = checkout / ref.source
    if not source.is_file():
        raise FileNotFoundError(
            f"{source} does not exist: clone https://github.com/{ref.repo} and check out "
            f"{ref.commit}, then pass its directory as --reference"
        )
    if not python.exists():
        raise FileNotFoundError(
            f"{python} does not exist: run `bash experiments/peers/setup.sh {ref.venv}` first "
            "(or pass --python)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _save_npz(tmp / "init.npz", init)
        np.savez(tmp / "inputs.npz", noise=noise, **inputs)
        cmd = [
            str(python),
            str(ROOT / "experiments" / "parity_refs" / ref.runner),
            str(source),
            str(tmp),
            str(steps),
            json.dumps({**ref.agent, **ref.reference_agent}),
        ]
        env = {**os.environ, "JAXRL_PARITY_X64": "1" if x64 else "0"}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode:
            raise RuntimeError(f"the reference runner failed:\n{done.stderr[-4000:]}")
        losses = json.loads((tmp / "losses.json").read_text())
        after = {k: _load_modules(tmp / f"after_{k}.npz") for k in (1, steps)}
    return losses, after


# --- the report -------------------------------------------------------------------------------


def corl_tanh_log_det(pre_tanh):
    """CORL's tanh correction, Σ log(1 − tanh(u)² + 1e-6) (`sac_n.py`, `Actor.forward`), in
    place of jaxrl's exact Σ 2(log 2 − u − softplus(−2u))."""
    import jax.numpy as jnp

    return jnp.sum(jnp.log(1.0 - jnp.tanh(pre_tanh) ** 2 + 1e-6), axis=-1)


#: Stand-ins for a jaxrl term that a reference computes otherwise: (module, name, stand-in).
#: `--match NAME` runs jaxrl with it, to show that this term alone explains a difference.
MATCHES = {
    "corl_tanh_log_det": ("jaxrl.networks.distributions", "_tanh_log_det", corl_tanh_log_det)
}


def compare(
    ref: Reference,
    checkout: Path,
    python: Path,
    steps: int,
    match: str | None = None,
    x64: bool = False,
) -> dict:
    import importlib

    if match is not None:  # before anything is traced: the jitted update reads it then
        module, name, stand_in = MATCHES[match]
        setattr(importlib.import_module(module), name, stand_in)
    inputs = make_inputs(ref, steps)
    if x64:
        if ref.venv != "jax":
            raise ValueError(f"--x64 runs JAX references only; {ref.algo}'s runs in {ref.venv}")
        import jax

        jax.config.update("jax_enable_x64", True)
        inputs = {k: v.astype(np.float64) for k, v in inputs.items()}
    ours = run_jaxrl(ref, inputs, steps)
    modules = MODULES[ref.modules]
    init = modules(*ours["initial"])
    theirs, their_after = run_reference(
        ref, checkout, python, init, inputs, ours["noise"], steps, x64
    )
    loss_diff = {}
    for name in ref.losses:
        per_step = [
            abs(o[name] - t[name])
            for o, t in zip(ours["losses"], theirs, strict=True)
            if name in t  # the reference logs the actor loss on its update steps only
        ]
        loss_diff[name] = {"step 1": per_step[0] if per_step else None, "max": max(per_step)}
    param_diff = {}
    control = run_jaxrl(ref, inputs, steps, perturb=CONTROL_PERTURBATION)
    moved_inputs = {
        k: v * np.float32(1.0 + CONTROL_PERTURBATION) if k != "terminated" else v
        for k, v in inputs.items()
    }
    input_control = run_jaxrl(ref, moved_inputs, steps)
    control_diff, input_control_diff = {}, {}
    for k in (1, steps):
        mine = modules(*ours["after"][k])
        param_diff[k] = {m: diff_profile(mine[m], their_after[k][m]) for m in mine}
        moved = modules(*control["after"][k])
        control_diff[k] = {m: diff_profile(mine[m], moved[m]) for m in mine}
        moved = modules(*input_control["after"][k])
        input_control_diff[k] = {m: diff_profile(mine[m], moved[m]) for m in mine}
    relative = {
        name: max(
            abs(o[name] - t[name]) / max(abs(t[name]), 1e-12)
            for o, t in zip(ours["losses"], theirs, strict=True)
            if name in t
        )
        for name in ref.losses
    }
    return {
        "algo": ref.algo,
        "reference": f"{ref.repo}@{ref.commit}:{ref.source}",
        "steps": steps,
        "jaxrl term replaced by the reference's": match,
        "dtype": "float64" if x64 else "float32",
        "loss_max_abs_diff": loss_diff,
        "loss_max_rel_diff": relative,
        "param_max_abs_diff": param_diff,
        f"control_param_diff (jaxrl vs jaxrl, initial params x (1 + {CONTROL_PERTURBATION}))": (
            control_diff
        ),
        f"control_input_diff (jaxrl vs jaxrl, batch floats x (1 + {CONTROL_PERTURBATION}))": (
            input_control_diff
        ),
        "losses_first_steps": {"jaxrl": ours["losses"][:4], "reference": theirs[:4]},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("algo", choices=sorted(REFERENCES))
    parser.add_argument("--reference", type=Path, required=True, help="checkout of the repo")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--python", type=Path, default=None, help="the reference venv's python")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    parser.add_argument(
        "--match",
        choices=sorted(MATCHES),
        default=None,
        help="run jaxrl with one of its terms computed as the reference does (a diagnosis)",
    )
    parser.add_argument(
        "--x64",
        action="store_true",
        help="both sides in float64 (JAX references): what remains is not float32 rounding",
    )
    args = parser.parse_args(argv)
    ref = REFERENCES[args.algo]
    python = args.python or PEERS_DIR / ref.venv / "bin" / "python"
    report = compare(ref, args.reference, python, args.steps, args.match, args.x64)
    text = json.dumps(report, indent=1, default=str)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
