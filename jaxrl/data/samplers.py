"""Trajectory-weighted sampling of an offline dataset: return (RW), advantage (AW) and top-K.

A sampler is a probability per transition, computed once on the host from the dataset's
episodes; every transition of a trajectory gets the same weight. `sampling_cdf` turns the
probabilities into the integer cumulative table that `jaxrl.buffers.dataset_sample` searches on
the device (inverse-CDF sampling), so training draws weighted batches with no per-run copy of
the dataset. The samplers work with any algorithm: set `TrainConfig.sampler`.

Definitions (Hong et al. 2023, `Improbable-AI/harness-offline-rl:
implicit_q_learning/dataset_utils.py`; ALGORITHMS.md §12), with G_i the undiscounted return
of trajectory i and α the temperature:

- RW: Ĝ_i = (G_i − min G) / (max G − min G); p(t) ∝ exp(Ĝ_i / α) for t in trajectory i, a
  softmax over *transitions*, so trajectory i's total mass is ∝ T_i exp(Ĝ_i / α).
- AW: a least-squares linear fit V̂(s_0) ≈ G from each trajectory's first observation (with
  intercept, as sklearn's LinearRegression), A_i = G_i − V̂(s_{0,i}), min-max normalized, then
  the same softmax with α.
- Top-K: uniform over the transitions of the ⌊n · fraction⌋ trajectories with the highest
  return (at least one).

Where the reference divides by zero (all returns or all advantages equal, or ⌊n · fraction⌋ =
0) these functions fall back to equal normalized values (uniform) and one trajectory.

Example:

    >>> import numpy as np
    >>> from jaxrl.data import from_arrays
    >>> from jaxrl.data.samplers import return_weighted_probs
    >>> obs = np.zeros((4, 1), np.float32)
    >>> ds = from_arrays({"observations": obs, "next_observations": obs,
    ...                   "actions": np.zeros((4, 1)), "rewards": [0.0, 0.0, 1.0, 1.0],
    ...                   "terminals": np.zeros(4), "timeouts": [0, 1, 0, 1]})
    >>> p = return_weighted_probs(ds, temperature=1.0)  # returns 0 and 2: Ĝ = 0 and 1
    >>> np.round(p / p[0], 4)
    array([1.    , 1.    , 2.7183, 2.7183])
"""

from __future__ import annotations

import math

import numpy as np

from jaxrl.data.dataset import Dataset, episode_ends

#: Sampler names accepted by `sampling_probabilities` and `TrainConfig.sampler`.
SAMPLERS = ("uniform", "rw", "aw", "topk")
#: α of RW and AW in every experiment of the reference (`experiments/d4rl/run_iql.py`).
DEFAULT_TEMPERATURE = 0.1
#: Share of trajectories kept by top-K (the reference's "Top-10%").
DEFAULT_TOP_FRACTION = 0.1
#: The cumulative table counts in units of 2^-31: every probability is rounded to a multiple
#: of this, and 31 random bits are drawn per sample (the totals fit uint32 without overflow).
CDF_TOTAL = 2**31


def trajectories(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """First row and length of every trajectory, split at `jaxrl.data.episode_ends`.

    Args:
      ds: a dataset.

    Returns:
      `(starts, lengths)`, int64 [num_trajectories] each, in dataset order.
    """
    ends = np.flatnonzero(episode_ends(ds))
    starts = np.concatenate([[0], ends[:-1] + 1])
    return starts, ends - starts + 1


def _returns(ds: Dataset, starts: np.ndarray) -> np.ndarray:
    return np.add.reduceat(np.asarray(ds.transitions.reward, np.float64), starts)


def _minmax(x: np.ndarray) -> np.ndarray:
    span = x.max() - x.min()
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


def _transition_softmax(scores: np.ndarray, lengths: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax over transitions of per-trajectory `scores` / temperature, as [N] probabilities."""
    _check_temperature(temperature)
    z = scores / temperature
    w = np.exp(z - z.max())
    per_row = w / np.sum(w * lengths)
    return np.repeat(per_row, lengths)


def _check_temperature(temperature: float) -> None:
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(
            f"sampler temperature must be a positive number, got {temperature}; the reference "
            f"uses {DEFAULT_TEMPERATURE}"
        )


def return_weighted_probs(ds: Dataset, temperature: float = DEFAULT_TEMPERATURE) -> np.ndarray:
    """RW: per-transition probabilities ∝ exp(min-max-normalized trajectory return / α).

    Args:
      ds: a dataset, with rewards as training sees them (the reference weights the rewards
        after its reward normalization).
      temperature: α > 0; smaller concentrates on the best trajectories.

    Returns:
      float64 [N] probabilities summing to 1.

    References:
      Hong, Agrawal, Combes, Laroche, "Harnessing Mixed Offline Reinforcement Learning Datasets
      via Trajectory Weighting", ICLR 2023, Section 4 (return weighting).
    """
    starts, lengths = trajectories(ds)
    return _transition_softmax(_minmax(_returns(ds, starts)), lengths, temperature)


def initial_state_values(ds: Dataset) -> np.ndarray:
    """V̂(s_0) of every trajectory: least-squares linear fit of returns on first observations.

    The fit has an intercept (features are centered, then `np.linalg.lstsq` gives the
    minimum-norm solution, as sklearn's LinearRegression does), in float64. With fewer
    trajectories than observation dimensions + 1 the fit is exact and every advantage is 0.

    Args:
      ds: a dataset.

    Returns:
      float64 [num_trajectories] fitted values at each trajectory's first observation.
    """
    starts, _ = trajectories(ds)
    s0 = np.asarray(ds.transitions.obs, np.float64)[starts]
    g = _returns(ds, starts)
    s0_mean, g_mean = s0.mean(axis=0), g.mean()
    coef, *_ = np.linalg.lstsq(s0 - s0_mean, g - g_mean, rcond=None)
    return (s0 - s0_mean) @ coef + g_mean


def advantage_weighted_probs(ds: Dataset, temperature: float = DEFAULT_TEMPERATURE) -> np.ndarray:
    """AW: per-transition probabilities ∝ exp(min-max-normalized A_i / α), A_i = G_i − V̂(s_0).

    Args:
      ds: a dataset (see `return_weighted_probs`); V̂ is `initial_state_values`.
      temperature: α > 0.

    Returns:
      float64 [N] probabilities summing to 1.

    References:
      Hong et al., ICLR 2023, Section 4 (advantage weighting; V̂ is a linear regression from
      the initial state to the return in the authors' code).
    """
    starts, lengths = trajectories(ds)
    advantages = _returns(ds, starts) - initial_state_values(ds)
    return _transition_softmax(_minmax(advantages), lengths, temperature)


def top_trajectories(ds: Dataset, fraction: float = DEFAULT_TOP_FRACTION) -> np.ndarray:
    """Indices (into `trajectories(ds)`) of the ⌊n · fraction⌋ best trajectories, at least one.

    Ties in return keep the earlier trajectory first.

    Args:
      ds: a dataset.
      fraction: share of trajectories kept, in (0, 1].

    Returns:
      int64 [k] trajectory indices, best first.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(
            f"top-K fraction must lie in (0, 1], got {fraction}; the reference keeps the best "
            f"{DEFAULT_TOP_FRACTION:.0%}"
        )
    starts, _ = trajectories(ds)
    k = max(1, math.floor(len(starts) * fraction + 1e-9))
    order = np.argsort(-_returns(ds, starts), kind="stable")
    return order[:k]


def top_k_probs(ds: Dataset, fraction: float = DEFAULT_TOP_FRACTION) -> np.ndarray:
    """Top-K: uniform over the transitions of `top_trajectories(ds, fraction)`, 0 elsewhere.

    A kept trajectory's total mass is therefore ∝ its length, as in the reference.

    Returns:
      float64 [N] probabilities summing to 1.
    """
    starts, lengths = trajectories(ds)
    keep = np.zeros(len(starts))
    keep[top_trajectories(ds, fraction)] = 1.0
    per_row = np.repeat(keep, lengths)
    return per_row / per_row.sum()


def sampling_probabilities(
    ds: Dataset,
    sampler: str,
    *,
    temperature: float = DEFAULT_TEMPERATURE,
    top_fraction: float = DEFAULT_TOP_FRACTION,
) -> np.ndarray:
    """Per-transition probabilities of a named sampler.

    Args:
      ds: a dataset.
      sampler: one of `SAMPLERS`: "uniform" (1/N each), "rw", "aw" or "topk".
      temperature: α of "rw" and "aw".
      top_fraction: share of trajectories kept by "topk".

    Returns:
      float64 [N] probabilities summing to 1.

    Raises:
      ValueError: unknown sampler, temperature ≤ 0, or fraction outside (0, 1].
    """
    if sampler == "uniform":
        return np.full(ds.size, 1.0 / ds.size)
    if sampler == "rw":
        return return_weighted_probs(ds, temperature)
    if sampler == "aw":
        return advantage_weighted_probs(ds, temperature)
    if sampler == "topk":
        return top_k_probs(ds, top_fraction)
    raise ValueError(f"unknown sampler {sampler!r}; allowed: {SAMPLERS}")


def sampling_cdf(probs: np.ndarray) -> np.ndarray:
    """The cumulative table searched by `jaxrl.buffers.dataset_sample` for weighted draws.

    `cdf[i] = round(CDF_TOTAL · Σ_{j ≤ i} p_j)` after normalizing the sum to 1, so
    `cdf[-1] == CDF_TOTAL` exactly and row i is drawn when 31 uniform random bits b satisfy
    `cdf[i − 1] ≤ b < cdf[i]`: probability `(cdf[i] − cdf[i − 1]) / 2^31`, i.e. p_i rounded to
    a multiple of 2^-31 (a zero probability stays exactly zero). Integers avoid float32's
    ~6e-8 resolution near 1, which would distort rows of large datasets by several percent.

    Args:
      probs: [N] non-negative weights with a positive, finite sum.

    Returns:
      uint32 [N] non-decreasing table.

    Raises:
      ValueError: negative or non-finite weights, or a zero sum.
    """
    p = np.asarray(probs, np.float64).reshape(-1)
    if p.size == 0 or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise ValueError(
            "sampling probabilities must be finite, non-negative and not all zero "
            f"(got {p.size} values, sum {p.sum() if p.size else 0.0})"
        )
    c = np.cumsum(p)
    c = np.round(c / c[-1] * CDF_TOTAL)
    c[-1] = CDF_TOTAL
    return np.maximum.accumulate(c).astype(np.uint32)
