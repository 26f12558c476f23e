"""Monte-Carlo discounted return-to-go (Cal-QL's lower bound; ALGORITHMS.md §2 and §10)."""

from __future__ import annotations

import jax
import numpy as np


def mc_return_to_go(
    reward: jax.Array,
    terminated: jax.Array,
    episode_end: jax.Array,
    discount: float,
) -> jax.Array:
    """G_t = r_t + γ (1 − end_t) G_{t+1} over a time-ordered sequence, on device.

    Args:
      reward: [T] rewards in time order.
      terminated: [T] true terminals (kept for the signature's clarity: a terminal also ends
        the episode, so it must be set in `episode_end` too).
      episode_end: [T] 1 where an episode ends (terminal or time-limit); no bootstrap across it.
      discount: γ.

    Returns:
      [T] returns-to-go. Steps after the last episode end see a truncated sum.

    Uses a parallel (associative) scan of the affine recurrence, so its depth is O(log T).
    """
    del terminated
    coef = discount * (1.0 - episode_end.astype(reward.dtype))

    def combine(later, earlier):
        # Each element is an affine map G ↦ a·G + b; compose the earlier one after the later.
        a_l, b_l = later
        a_e, b_e = earlier
        return a_e * a_l, b_e + a_e * b_l

    _, g = jax.lax.associative_scan(combine, (coef, reward), reverse=True)
    return g


def mc_return_to_go_np(
    reward: np.ndarray,
    episode_end: np.ndarray,
    discount: float,
    sparse_reward: float | None = None,
) -> np.ndarray:
    """Host reference of `mc_return_to_go` with Cal-QL's sparse-reward rule.

    Args:
      reward: [T] rewards in time order (already scaled and biased).
      episode_end: [T] 1 where an episode ends (terminal or time-limit).
      discount: γ.
      sparse_reward: r_neg; an episode whose every reward equals it gets
        G_t = r_neg / (1 − γ) at every step. None disables the rule.
    """
    reward = np.asarray(reward, np.float64)
    end = np.asarray(episode_end, bool)
    out = np.zeros_like(reward)
    start = 0
    ends = list(np.flatnonzero(end))
    if len(reward) and (not ends or ends[-1] != len(reward) - 1):
        ends.append(len(reward) - 1)
    for stop in ends:
        seg = reward[start : stop + 1]
        if sparse_reward is not None and np.all(seg == sparse_reward):
            out[start : stop + 1] = sparse_reward / (1.0 - discount)
        else:
            g = 0.0
            for t in range(len(seg) - 1, -1, -1):
                g = seg[t] + discount * g
                out[start + t] = g
        start = stop + 1
    return out.astype(np.float32)
