"""Trajectory-level dataset transforms: dataset next actions (ReBRAC) and top-return filtering
(%BC), computed once on the host in numpy.

Example:

    >>> import numpy as np
    >>> from jaxrl.data import from_arrays
    >>> from jaxrl.data.trajectories import top_trajectories, with_next_actions
    >>> ds = from_arrays({
    ...     "observations": np.zeros((4, 1)), "next_observations": np.zeros((4, 1)),
    ...     "actions": np.array([[0.1], [0.2], [0.3], [0.4]]),
    ...     "rewards": np.array([1.0, 1.0, 5.0, 5.0]),
    ...     "terminals": np.array([0, 1, 0, 1]),
    ... })
    >>> with_next_actions(ds).transitions.next_action[:, 0]
    array([0.2, 0.2, 0.4, 0.4], dtype=float32)
    >>> top_trajectories(ds, 0.5, discount=1.0).transitions.reward
    array([5., 5.], dtype=float32)
"""

from __future__ import annotations

import jax
import numpy as np

from jaxrl.data.dataset import Dataset, episode_ends


def _episode_starts(ends: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.flatnonzero(ends)[:-1] + 1]).astype(np.int64)


def with_next_actions(ds: Dataset) -> Dataset:
    """Fills `next_action[t] = action[t + 1]` within each episode.

    At an episode's last row there is no next action in the data; the row's own action is
    stored there. Such rows either end in a terminal (no bootstrap, so the value is never
    used) or in a time-limit truncation, where ReBRAC masks its critic penalty (CORL's
    `qlearning_dataset` drops those rows instead).

    Args:
      ds: a dataset with time-ordered episodes.

    Returns:
      A new `Dataset` whose transitions carry `next_action` [N, action_dim].
    """
    t = ds.transitions
    action = np.asarray(t.action, np.float32)
    nxt = action.copy()
    nxt[:-1] = action[1:]
    ends = episode_ends(ds)
    nxt[ends] = action[ends]
    return Dataset(t.replace(next_action=nxt), dict(ds.metadata))


def trajectory_returns(ds: Dataset, discount: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Each episode's (discounted) return and the episode index of every row.

    Args:
      ds: a dataset.
      discount: γ of Σ_t γ^t r_t from each episode's first row; 1 gives the plain sum.

    Returns:
      (returns [num_episodes] float64, episode_of_row [N] int64).
    """
    ends = episode_ends(ds)
    starts = _episode_starts(ends)
    episode = np.cumsum(np.concatenate([[0], ends[:-1]])).astype(np.int64)
    step = np.arange(ends.size) - starts[episode]
    reward = np.asarray(ds.transitions.reward, np.float64)
    returns = np.bincount(episode, weights=reward * discount**step, minlength=starts.size)
    return returns, episode


def top_trajectory_mask(ds: Dataset, fraction: float, discount: float = 1.0) -> np.ndarray:
    """Rows of the best `fraction` of episodes by (discounted) return.

    Keeps `max(1, int(fraction · num_episodes))` episodes, as CORL's `any_percent_bc.py`
    (`keep_best_trajectories`) does; ties are broken by dataset order.

    Args:
      ds: a dataset.
      fraction: share of episodes to keep, in (0, 1].
      discount: γ used to rank episodes (CORL ranks by the γ = 0.99 discounted return).

    Returns:
      bool [N], True for rows of kept episodes.

    Raises:
      ValueError: `fraction` outside (0, 1].
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"top fraction {fraction} must lie in (0, 1], e.g. 0.1 for 10%BC")
    returns, episode = trajectory_returns(ds, discount)
    keep = max(1, int(fraction * returns.size))
    order = np.argsort(-returns, kind="stable")[:keep]
    kept = np.zeros(returns.size, bool)
    kept[order] = True
    return kept[episode]


def top_trajectories(ds: Dataset, fraction: float, discount: float = 1.0) -> Dataset:
    """The dataset restricted to its best `fraction` of episodes (see `top_trajectory_mask`).

    Sampling the result uniformly is sampling uniformly among the kept rows, which is what
    %BC trains on. Metadata gains `top_fraction` and `top_fraction_discount`.
    """
    mask = top_trajectory_mask(ds, fraction, discount)
    kept = jax.tree.map(lambda x: np.asarray(x)[mask], ds.transitions)
    metadata = dict(ds.metadata)
    metadata["top_fraction"] = float(fraction)
    metadata["top_fraction_discount"] = float(discount)
    return Dataset(kept, metadata)
