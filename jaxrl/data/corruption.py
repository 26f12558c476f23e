"""Corrupted copies of an offline dataset: random and adversarial noise on observations, actions,
rewards and dynamics (next observations), as in the RIQL benchmark.

`corrupt(ds, kinds, rate=..., scale=..., seed=...)` returns a new `Dataset` and the indices of
the corrupted rows per kind; the source dataset (and any file it came from) is never modified.
The record of what was done, indices included, is appended to `metadata["corruption"]`, so
`save_hdf5`/`save_npz` keep it with the file.

What each kind and mode does (ε = `scale`, std = the per-dimension standard deviation of the
field over the whole dataset, as it is when that kind is applied; `YangRui2015/RIQL:attack.py`,
ALGORITHMS.md §11):

| kind | field | random | adversarial |
|---|---|---|---|
| "obs" | obs | x + U(−ε, ε) · std | x + p · std minimizing Q(x + p · std, a) |
| "action" | action | a + U(−ε, ε) · std | a + p · std minimizing Q(s, a + p · std) |
| "reward" | reward | r ← U(−ε, ε) · 30 (replaced) | r ← −ε · r |
| "dynamics" | next_obs | s' + U(−ε, ε) · std | s'' = s' + p · std minimizing Q(s'', π(s'')) |

The adversarial perturbation p ∈ [−ε, ε]^d (so every coordinate moves by at most ε · std) is
found by `attack_steps` projected steps against a user-supplied critic `q_fn` (for example a
trained agent's Q, or an ensemble mean), see `adversarial_perturbation`.

Differences from RIQL's `attack.py`, each deliberate:

- Exactly `round(rate · N)` rows (half up) are corrupted per kind, chosen without replacement;
  RIQL corrupts each row independently with probability `rate` (a Binomial count with the same
  mean). Each kind draws its own rows, as RIQL does (`resample_indexs=True`).
- Corrupted actions are clipped to the action box, ±(1 − 1e-5) as `from_arrays` does, so the
  result is a valid `Dataset` that saves and reloads; RIQL leaves them unclipped.
- The adversarial start p₀ is U(−ε, ε); RIQL's start is U(−ε, ε) · std (its first projection
  brings it back into [−ε, ε]).

Randomness: one `numpy.random.Generator` (`np.random.default_rng(seed)`) drives everything, in
the order the kinds are given: for each kind, the rows (`Generator.choice`), then the noise or
the adversarial start. The adversarial steps themselves are deterministic. The same seed and
arguments give bit-identical results.

Example:

    >>> import numpy as np
    >>> from jaxrl.data import from_arrays
    >>> from jaxrl.data.corruption import corrupt
    >>> rng = np.random.default_rng(0)
    >>> ds = from_arrays({"observations": rng.normal(size=(100, 3)),
    ...                   "next_observations": rng.normal(size=(100, 3)),
    ...                   "actions": rng.uniform(-1, 1, (100, 2)), "rewards": np.ones(100),
    ...                   "terminals": np.zeros(100)})
    >>> bad, idx = corrupt(ds, ["obs", "reward"], rate=0.3, scale=1.0, seed=0)
    >>> len(idx["obs"]), len(idx["reward"])
    (30, 30)
    >>> bad.metadata["corruption"][1]["kind"]
    'reward'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.data.dataset import _DEFAULT_ACTION_BOX, ACTION_CLIP_EPS, Dataset
from jaxrl.specs import EnvSpec

#: Corruption kinds, in RIQL's order of application.
KINDS = ("obs", "action", "reward", "dynamics")
#: "random" noise, or "adversarial" against a critic.
MODES = ("random", "adversarial")
#: The `Transition` field each kind corrupts.
FIELDS = {"obs": "obs", "action": "action", "reward": "reward", "dynamics": "next_obs"}
#: Random reward corruption draws U(−scale, scale) times this constant (RIQL `attack.py`).
RANDOM_REWARD_RANGE = 30.0
#: RIQL's attack: 100 steps of size 0.01 · scale.
DEFAULT_ATTACK_STEPS = 100
DEFAULT_ATTACK_STEP_SIZE = 0.01
#: Rows attacked per compiled call (the last batch is padded, so one compilation serves all).
DEFAULT_ATTACK_BATCH = 4096
#: Adam's ε in the first-step update that RIQL's attack amounts to (see below).
_ADAM_EPS = 1e-8

QFn = Callable[[jax.Array, jax.Array], jax.Array]
PolicyFn = Callable[[jax.Array], jax.Array]


def num_corrupted(n: int, rate: float) -> int:
    """Rows corrupted per kind: `rate · n` rounded half up (0.5 → 1)."""
    return int(math.floor(rate * n + 0.5))


def _check(kinds: Sequence[str], mode: str, rate: float, scale: float) -> None:
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown corruption kind {kind!r}; allowed: {KINDS}")
    if len(set(kinds)) != len(kinds):
        raise ValueError(f"kinds {list(kinds)} repeat a kind; give each kind once")
    if not kinds:
        raise ValueError(f"no corruption kind given; pick from {KINDS}")
    if mode not in MODES:
        raise ValueError(f"unknown corruption mode {mode!r}; allowed: {MODES}")
    if not (0.0 <= rate <= 1.0):
        raise ValueError(
            f"corruption rate must lie in [0, 1] (the fraction of rows corrupted), got {rate}"
        )
    if not (scale >= 0.0 and math.isfinite(scale)):
        raise ValueError(
            f"corruption scale must be a finite number >= 0, got {scale}; RIQL uses 1.0 "
            "(README) or 0.3 (its argparse default)"
        )


def adversarial_perturbation(
    objective: Callable[[jax.Array], jax.Array],
    p0: jax.Array,
    scale: float,
    steps: int = DEFAULT_ATTACK_STEPS,
    step_size: float = DEFAULT_ATTACK_STEP_SIZE,
) -> jax.Array:
    """Projected sign-gradient descent of `objective` over p ∈ [−scale, scale]^shape.

    Each step is p ← clip(p − η g / (|g| + 1e-8), −scale, scale) with g = ∇_p objective(p) and
    η = step_size · scale. This is exactly what RIQL's attack computes: it builds a fresh Adam
    optimizer before every one of its steps, and a first Adam step is η g / (|g| + ε). Minimizes
    `objective`; pass a sum over rows so that each row's step ignores the others.

    Args:
      objective: scalar function of p (jax-differentiable).
      p0: the start, inside the box.
      scale: the box half-width ε ≥ 0.
      steps: number of steps.
      step_size: η / ε.

    Returns:
      The final p, inside [−scale, scale].
    """
    lr = step_size * scale
    grad = jax.grad(objective)

    def body(_, p):
        g = grad(p)
        return jnp.clip(p - lr * g / (jnp.abs(g) + _ADAM_EPS), -scale, scale)

    return jax.lax.fori_loop(0, steps, body, p0)


def _attack_rows(
    kind: str,
    x: np.ndarray,
    other: np.ndarray,
    std: np.ndarray,
    p0: np.ndarray,
    scale: float,
    q_fn: QFn,
    policy_fn: PolicyFn | None,
    steps: int,
    step_size: float,
    batch: int,
) -> np.ndarray:
    """The adversarial perturbation p · std of rows `x` (obs, actions or next obs)."""
    std_j = jnp.asarray(std, jnp.float32)

    def objective(p, x_b, other_b):
        moved = x_b + p * std_j
        if kind == "obs":
            q = jax.vmap(q_fn)(moved, other_b)
        elif kind == "action":
            q = jax.vmap(q_fn)(other_b, moved)
        else:  # dynamics: the value of the corrupted next state under the policy
            q = jax.vmap(q_fn)(moved, jax.vmap(policy_fn)(moved))
        return jnp.sum(q)

    @jax.jit
    def attack(p, x_b, other_b):
        return adversarial_perturbation(
            lambda p: objective(p, x_b, other_b), p, scale, steps, step_size
        )

    n = x.shape[0]
    out = np.empty(x.shape, np.float64)
    if n == 0:
        return out
    size = min(batch, n)
    padded = -(-n // size) * size
    # Padding repeats the last row; its result is dropped.
    pad = lambda a: np.concatenate([a, np.repeat(a[-1:], padded - n, axis=0)])
    p0, x, other = pad(p0), pad(x), pad(other)
    for lo in range(0, n, size):
        p = attack(p0[lo : lo + size], x[lo : lo + size], other[lo : lo + size])
        out[lo : lo + size] = np.asarray(p)[: n - lo] * std
    return out


def corrupt(
    ds: Dataset,
    kinds: str | Sequence[str],
    *,
    rate: float,
    scale: float,
    seed: int,
    mode: str = "random",
    q_fn: QFn | None = None,
    policy_fn: PolicyFn | None = None,
    spec: EnvSpec | None = None,
    attack_steps: int = DEFAULT_ATTACK_STEPS,
    attack_step_size: float = DEFAULT_ATTACK_STEP_SIZE,
    attack_batch: int = DEFAULT_ATTACK_BATCH,
) -> tuple[Dataset, dict[str, np.ndarray]]:
    """A corrupted copy of `ds` and the rows corrupted for each kind.

    Kinds are applied one after another in the given order, each to its own rows, each seeing
    the earlier kinds' corruption (as RIQL's sequential attacks do). See the module docstring
    for what each kind and mode does.

    Args:
      ds: the clean dataset; not modified.
      kinds: one of `KINDS` or a sequence of distinct kinds.
      rate: fraction of rows corrupted per kind, in [0, 1]; `num_corrupted` rows exactly.
        RIQL's README uses 0.3, its argparse default is 0.1.
      scale: ε ≥ 0, in units of the field's per-dimension std (rewards: see the table).
        RIQL's README uses 1.0, its argparse default is 0.3.
      seed: seeds the `numpy.random.Generator` that picks rows and draws noise.
      mode: "random" or "adversarial".
      q_fn: `q_fn(obs[obs_dim], action[action_dim]) -> scalar`, differentiable with jax, for
        one example (it is vmapped); needed by adversarial "obs", "action" and "dynamics".
      policy_fn: `policy_fn(obs[obs_dim]) -> action[action_dim]`, differentiable; needed by
        adversarial "dynamics" (RIQL evaluates Q at the policy's action in the corrupted
        next state).
      spec: for the action box; without it actions are clipped to [−1, 1] (shrunk by 1e-5).
      attack_steps: projected steps of the adversarial search (RIQL: 100).
      attack_step_size: step size as a fraction of `scale` (RIQL: 0.01).
      attack_batch: rows per compiled attack call (memory, not results).

    Returns:
      `(corrupted, indices)`: a new `Dataset` whose metadata gains one record per kind in the
      list `metadata["corruption"]` (`kind`, `mode`, `rate`, `scale`, `seed`, `indices`), and
      a dict kind → sorted int64 row indices. Rows not listed are bit-identical to `ds`.

    Raises:
      ValueError: unknown kind or mode, repeated kind, rate outside [0, 1], scale < 0, a
        missing `q_fn`/`policy_fn`, or a non-finite result (e.g. a critic with NaN gradients).

    References:
      Yang et al., "Towards Robust Offline Reinforcement Learning under Diverse Data
      Corruption", ICLR 2024 (`YangRui2015/RIQL:attack.py`).
    """
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    _check(kinds, mode, rate, scale)
    if mode == "adversarial":
        if q_fn is None and any(k != "reward" for k in kinds):
            raise ValueError(
                "adversarial corruption of obs, action or dynamics needs q_fn(obs, action) -> "
                "value, e.g. a trained agent's critic; pass q_fn="
            )
        if policy_fn is None and "dynamics" in kinds:
            raise ValueError(
                "adversarial dynamics corruption needs policy_fn(obs) -> action (Q is taken at "
                "the policy's action in the corrupted next state); pass policy_fn="
            )
    if attack_steps < 0 or attack_batch <= 0:
        raise ValueError(
            f"attack_steps={attack_steps} must be >= 0 and attack_batch={attack_batch} > 0"
        )

    rng = np.random.default_rng(seed)
    fields = {name: np.asarray(getattr(ds.transitions, name)) for name in set(FIELDS.values())}
    records = list(ds.metadata.get("corruption", []))
    indices: dict[str, np.ndarray] = {}
    n = ds.size
    for kind in kinds:
        name = FIELDS[kind]
        clean = fields[name]
        idx = np.sort(rng.choice(n, num_corrupted(n, rate), replace=False)).astype(np.int64)
        new = np.array(clean, copy=True)
        if kind == "reward":
            if mode == "random":
                new[idx] = rng.uniform(-scale, scale, idx.shape) * RANDOM_REWARD_RANGE
            else:
                new[idx] = -scale * clean[idx]
        else:
            std = clean.astype(np.float64).std(axis=0)
            rows = clean[idx]
            if mode == "random":
                noise = rng.uniform(-scale, scale, rows.shape) * std
            else:
                p0 = rng.uniform(-scale, scale, rows.shape).astype(np.float32)
                other = fields["action"][idx] if kind == "obs" else fields["obs"][idx]
                noise = _attack_rows(
                    kind,
                    rows,
                    other,
                    std,
                    p0,
                    scale,
                    q_fn,
                    policy_fn,
                    attack_steps,
                    attack_step_size,
                    attack_batch,
                )
            new[idx] = rows + noise
            if kind == "action":
                low, high = (spec.action_low, spec.action_high) if spec else _DEFAULT_ACTION_BOX
                mid, half = (high + low) / 2.0, (high - low) / 2.0 * (1.0 - ACTION_CLIP_EPS)
                new[idx] = np.clip(new[idx], mid - half, mid + half)
        if not np.all(np.isfinite(new[idx])):
            raise ValueError(
                f"{kind} corruption produced non-finite values; check that q_fn/policy_fn give "
                "finite values and gradients on the dataset"
            )
        fields[name] = new
        indices[kind] = idx
        records.append(
            {
                "kind": kind,
                "mode": mode,
                "rate": float(rate),
                "scale": float(scale),
                "seed": int(seed),
                "indices": idx.tolist(),
            }
        )
    metadata = dict(ds.metadata)
    metadata["corruption"] = records
    return Dataset(ds.transitions.replace(**fields), metadata), indices


def corrupted_indices(ds: Dataset) -> dict[str, np.ndarray]:
    """The rows corrupted per kind, read back from `metadata["corruption"]` (e.g. after load).

    A kind corrupted by several `corrupt` calls gets the union of its rows.

    Args:
      ds: a dataset made (or saved) by `corrupt`; an uncorrupted one gives {}.

    Returns:
      dict kind → sorted int64 row indices.
    """
    out: dict[str, np.ndarray] = {}
    for record in ds.metadata.get("corruption", []):
        idx = np.asarray(record["indices"], np.int64)
        kind = record["kind"]
        out[kind] = np.union1d(out[kind], idx) if kind in out else np.sort(idx)
    return out


def corrupted_mask(ds: Dataset) -> np.ndarray:
    """bool [N]: rows corrupted by any kind (RIQL logs losses on corrupted vs clean rows)."""
    mask = np.zeros(ds.size, bool)
    for idx in corrupted_indices(ds).values():
        mask[idx] = True
    return mask
