"""The robustness experiments' data and tables (the training jobs are plain `run` jobs, tested
elsewhere): the random+expert mixture, and the cells of the tables."""

import os

import numpy as np
import pytest

from experiments import robustness
from jaxrl import data, report
from tests.helpers import random_arrays


@pytest.fixture
def suite(monkeypatch, tmp_path):
    """Two small 'suite' datasets (episodes of 50 steps) and a derived dir under tmp_path."""
    base = data.from_arrays(
        random_arrays(200, 3, 2, seed=0),
        metadata={
            "task": "halfcheetah",
            "random_return": -1.0,
            "expert_return": 9.0,
            "sha256": "abc",
            "episodes": 4,
        },
    )
    expert = data.from_arrays(random_arrays(150, 3, 2, seed=1), metadata={"task": "halfcheetah"})
    sets = {"halfcheetah-random-v0": base, "halfcheetah-expert-v0": expert}
    monkeypatch.setattr(robustness, "load_suite", lambda name: (sets[name], _Env()))
    monkeypatch.setenv("JAXRL_DATA", str(tmp_path))
    return base, expert


class _Env:
    spec = None


def test_mixture_is_the_base_then_the_first_expert_episodes(suite):
    base, expert = suite
    plan = robustness.PLANS["tiny"]  # 2 expert episodes
    path = robustness.mixed_dataset(plan, "tiny")
    assert path.endswith("derived/tiny/halfcheetah-random+2expert.hdf5")
    mix = data.load(path)
    assert mix.size == 200 + 2 * 50
    np.testing.assert_array_equal(mix.transitions.obs[:200], base.transitions.obs)
    np.testing.assert_array_equal(mix.transitions.obs[200:], expert.transitions.obs[:100])
    np.testing.assert_array_equal(mix.transitions.reward[200:], expert.transitions.reward[:100])
    # 4 + 2 episodes, each ending where its source ended.
    assert int(data.episode_ends(mix).sum()) == 6
    # The base's reference returns stay (scores are normalized as for the suite); its
    # checksum and per-file statistics do not.
    assert mix.metadata["random_return"] == -1.0 and mix.metadata["expert_return"] == 9.0
    assert "sha256" not in mix.metadata and "episodes" not in mix.metadata
    assert "first 2 episodes of halfcheetah-expert-v0 (100 rows)" in mix.metadata["mixture"]
    # Written once: a second call returns the same file untouched.
    mtime = os.path.getmtime(path)
    assert robustness.mixed_dataset(plan, "tiny") == path
    assert os.path.getmtime(path) == mtime


def test_cell_is_iqm_with_ci_and_mean_std():
    summary = {"runs": [{"final_score": x} for x in (10.0, 20.0, 30.0, 40.0)]}
    text = report.final_cell(summary)
    # IQM of 4 values: the mean of the middle two (20, 30) = 25.
    assert text.startswith("25.0 [")
    assert text.endswith(f"(25.0 ± {np.std([10, 20, 30, 40], ddof=1):.1f})")
