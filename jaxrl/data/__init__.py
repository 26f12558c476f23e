"""Offline datasets: validated loading (npz, HDF5 in the D4RL layout, Minari), saving, episode
structure, Monte-Carlo returns and transforms (observation normalization, reward scale and bias,
action clipping, next actions), on the host; `to_device` moves a dataset to the accelerator once.

Example:

    >>> from jaxrl import data
    >>> ds = data.load("halfcheetah-medium-v0")  # doctest: +SKIP
    >>> ds = data.with_mc_returns(ds, discount=0.99)  # doctest: +SKIP
    >>> transitions = data.to_device(ds)  # doctest: +SKIP
"""

from jaxrl.data.corruption import corrupt, corrupted_indices
from jaxrl.data.dataset import (
    Dataset,
    DatasetError,
    concatenate,
    episode_ends,
    episode_returns,
    first_episodes,
    from_arrays,
    to_device,
    validate,
    with_mc_returns,
)
from jaxrl.data.io import data_dir, load, save_hdf5, save_npz
from jaxrl.data.minari import load_minari, minari_root
from jaxrl.data.samplers import SAMPLERS, sampling_cdf, sampling_probabilities
from jaxrl.data.transforms import (
    ObsNormalizer,
    clip_actions,
    next_actions,
    normalize_obs,
    obs_normalizer,
    return_range_scale,
    scale_rewards,
)

__all__ = [
    "SAMPLERS",
    "Dataset",
    "DatasetError",
    "ObsNormalizer",
    "clip_actions",
    "concatenate",
    "data_dir",
    "episode_ends",
    "corrupt",
    "corrupted_indices",
    "episode_returns",
    "first_episodes",
    "from_arrays",
    "load",
    "load_minari",
    "minari_root",
    "next_actions",
    "normalize_obs",
    "obs_normalizer",
    "return_range_scale",
    "save_hdf5",
    "sampling_cdf",
    "sampling_probabilities",
    "save_npz",
    "scale_rewards",
    "to_device",
    "validate",
    "with_mc_returns",
]
