"""Device-resident replay: a fixed-capacity ring buffer, the dataset as a buffer, and a mixer."""

from jaxrl.buffers.mixer import RETENTION_MODES, mixed_sample, offline_fraction
from jaxrl.buffers.ring import (
    BufferState,
    WeightedDataset,
    buffer_add,
    buffer_init,
    buffer_sample,
    dataset_sample,
    recompute_mc_returns,
)

__all__ = [
    "RETENTION_MODES",
    "BufferState",
    "WeightedDataset",
    "buffer_add",
    "buffer_init",
    "buffer_sample",
    "dataset_sample",
    "mixed_sample",
    "offline_fraction",
    "recompute_mc_returns",
]
