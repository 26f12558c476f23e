"""Compiled chunks of training: offline, online, evaluation, and the offline→online switch."""

from jaxrl.training.chunks import (
    TrainState,
    init_train_state,
    make_evaluator,
    make_offline_chunk,
    make_online_chunk,
    make_switch,
)

__all__ = [
    "TrainState",
    "init_train_state",
    "make_evaluator",
    "make_offline_chunk",
    "make_online_chunk",
    "make_switch",
]
