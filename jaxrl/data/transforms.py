"""Dataset transforms: observation normalization, reward scale and bias, action clipping, next
actions. Monte-Carlo returns-to-go are `jaxrl.data.with_mc_returns`.

Each dataset transform returns a new `Dataset` and leaves its input unchanged. The observation
normalizer is a small pytree fixed from the offline data; the training loop applies the same
object to the dataset once, to online observations before they reach the agent and the buffer,
and to evaluation observations (`TrainConfig.normalize_obs`), and saves it with the run so that
`jaxrl.checkpoint.load_policy` applies it too.

Example:

    >>> import numpy as np
    >>> from jaxrl.data import from_arrays, transforms
    >>> obs = np.array([[0.0], [2.0], [4.0]], np.float32)
    >>> ds = from_arrays({"observations": obs, "next_observations": obs + 2,
    ...                   "actions": np.zeros((3, 1)), "rewards": np.ones(3),
    ...                   "terminals": np.zeros(3)})
    >>> norm = transforms.obs_normalizer(ds, eps=0.0)
    >>> transforms.normalize_obs(ds, norm).transitions.obs[:, 0].round(4)
    array([-1.2247,  0.    ,  1.2247], dtype=float32)
    >>> transforms.next_actions(ds).shape
    (3, 1)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from flax import struct

from jaxrl.data.dataset import (
    ACTION_CLIP_EPS,
    Dataset,
    DatasetError,
    clip_to_box,
    episode_ends,
    episode_returns,
)

#: Added to the per-dimension standard deviation (CORL, RIQL: 1e-3), so constant observation
#: dimensions map to 0 instead of dividing by zero.
OBS_NORM_EPS = 1e-3


@struct.dataclass
class ObsNormalizer:
    """`(obs - mean) / std` with statistics fixed from a dataset.

    Works on numpy and jax arrays with any leading axes, inside or outside `jit`.

    Attributes:
      mean: [obs_dim] float32 per-dimension mean.
      std: [obs_dim] float32 per-dimension standard deviation, `eps` already added.
    """

    mean: Any
    std: Any

    def __call__(self, obs):
        return (obs - self.mean) / self.std

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-able lists (float32 values survive the round trip through JSON exactly)."""
        return {
            "mean": np.asarray(self.mean, np.float32).tolist(),
            "std": np.asarray(self.std, np.float32).tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ObsNormalizer:
        return cls(mean=np.asarray(d["mean"], np.float32), std=np.asarray(d["std"], np.float32))


def obs_normalizer(
    ds: Dataset, eps: float = OBS_NORM_EPS, include_next_obs: bool = False
) -> ObsNormalizer:
    """The per-dimension mean and standard deviation (+ eps) of a dataset's observations.

    Args:
      ds: the offline dataset.
      eps: added to the standard deviation.
      include_next_obs: compute the statistics over observations and next observations
        together (RIQL) instead of observations only (CORL).

    Returns:
      An `ObsNormalizer` with float32 statistics (computed in float64).
    """
    obs = np.asarray(ds.transitions.obs, np.float64)
    if include_next_obs:
        obs = np.concatenate([obs, np.asarray(ds.transitions.next_obs, np.float64)])
    return ObsNormalizer(
        mean=obs.mean(axis=0).astype(np.float32), std=(obs.std(axis=0) + eps).astype(np.float32)
    )


def _replace(ds: Dataset, metadata_update: dict | None = None, **fields) -> Dataset:
    metadata = {**ds.metadata, **(metadata_update or {})}
    return dataclasses.replace(ds, transitions=ds.transitions.replace(**fields), metadata=metadata)


def normalize_obs(ds: Dataset, normalizer: ObsNormalizer) -> Dataset:
    """Applies `normalizer` to the observations and next observations of `ds` (float32)."""
    t = ds.transitions
    f32 = lambda x: np.asarray(normalizer(np.asarray(x, np.float32)), np.float32)
    return _replace(ds, {"obs_normalized": True}, obs=f32(t.obs), next_obs=f32(t.next_obs))


def scale_rewards(ds: Dataset, scale: float = 1.0, bias: float = 0.0) -> Dataset:
    """r ← r · scale + bias (as `TrainConfig.reward_scale`/`reward_bias` do offline and online).

    Monte-Carlo returns are not rescaled: compute them afterwards (`with_mc_returns`).
    """
    reward = (np.asarray(ds.transitions.reward, np.float32) * scale + bias).astype(np.float32)
    return _replace(ds, reward=reward)


#: `TrainConfig.reward_normalization` modes: "none", or "return_range" (`return_range_scale`).
REWARD_NORMALIZATIONS = ("none", "return_range")


def return_range_scale(ds: Dataset, horizon: float = 1000.0) -> float:
    """`horizon / (R_max − R_min)`: the reward factor of IQL's and XQL's locomotion runs.

    R_max and R_min are the largest and smallest undiscounted episode returns of `ds`, episodes
    split at terminations and truncations (`episode_returns`); `horizon` is the time limit
    (implicit_q_learning `train_offline.py` uses 1000; CORL `modify_reward`, the environment's
    `max_episode_steps`). The references apply the same factor to online rewards.

    Raises:
      DatasetError: the dataset has fewer than two distinct episode returns.
    """
    returns = episode_returns(ds)
    spread = float(returns.max() - returns.min()) if returns.size else 0.0
    if not spread > 0.0:
        raise DatasetError(
            f"{ds.metadata.get('name', 'dataset')}: reward_normalization='return_range' divides "
            f"by the spread of episode returns, but its {returns.size} episode(s) all return "
            f"{float(returns.max()) if returns.size else 0.0:g}; set reward_normalization='none' "
            "(and reward_scale= if the rewards need another scale)"
        )
    return float(horizon) / spread


def clip_actions(ds: Dataset, low=-1.0, high=1.0, eps: float = ACTION_CLIP_EPS) -> Dataset:
    """Clips actions into [low, high] shrunk by `eps` of the half-width on each side.

    `from_arrays` already clips to ±(1 − 1e-5) of the action box (IQL, CORL, RLPD); use this for
    another margin or box.

    Args:
      ds: a dataset.
      low: lower bound, a scalar or [action_dim].
      high: upper bound, like `low`.
      eps: relative margin; 0 clips to the box itself.
    """
    return _replace(ds, action=clip_to_box(ds.transitions.action, low, high, eps))


def next_actions(ds: Dataset, at_end: str = "copy") -> np.ndarray:
    """The action taken at the next step of the same episode (SARSA-style targets, ReBRAC).

    Args:
      ds: a dataset whose rows are in time order within episodes.
      at_end: at an episode's last row, where the next action is not in the data: "copy" the
        row's own action (a truncated episode's best guess; a terminal row is masked anyway)
        or "zero".

    Returns:
      float32 [N, action_dim]; row t holds `action[t + 1]` unless t ends an episode. Sample it
      with the same indices as the transitions, e.g. `dataset_sample((transitions,
      jnp.asarray(next_act)), key, batch_size)`.
    """
    if at_end not in ("copy", "zero"):
        raise ValueError(f"at_end={at_end!r}; allowed: 'copy', 'zero'")
    action = np.asarray(ds.transitions.action, np.float32)
    ends = episode_ends(ds)
    out = np.empty_like(action)
    out[:-1] = action[1:]
    fill = action if at_end == "copy" else np.zeros_like(action)
    out[ends] = fill[ends]
    return out
