"""Offline datasets: validated loading (npz, HDF5 in the D4RL layout), saving, episode structure
and Monte-Carlo returns, on the host; `to_device` moves a dataset to the accelerator once.

Example:

    >>> from jaxrl import data
    >>> ds = data.load("halfcheetah-medium-v0")  # doctest: +SKIP
    >>> ds = data.with_mc_returns(ds, discount=0.99)  # doctest: +SKIP
    >>> transitions = data.to_device(ds)  # doctest: +SKIP
"""

from jaxrl.data.dataset import (
    Dataset,
    DatasetError,
    episode_ends,
    episode_returns,
    from_arrays,
    to_device,
    validate,
    with_mc_returns,
)
from jaxrl.data.io import data_dir, load, save_hdf5, save_npz

__all__ = [
    "Dataset",
    "DatasetError",
    "data_dir",
    "episode_ends",
    "episode_returns",
    "from_arrays",
    "load",
    "save_hdf5",
    "save_npz",
    "to_device",
    "validate",
    "with_mc_returns",
]
