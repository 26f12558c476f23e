"""jaxrl.jobs and jaxrl.claims: one budget for every recipe, reading a job tree, and the claims
and targets as data (the lock and `run_job` are tested in test_results.py)."""

import json

import numpy as np
import pytest

from jaxrl import claims, jobs
from jaxrl.agents.base import dynamic, schedule_fields
from jaxrl.agents.rebrac.config import ReBRACConfig
from jaxrl.agents.spot.config import SPOTConfig
from jaxrl.config import config_to_json
from tests.helpers import tiny_config


def _values(**fields):
    return json.loads(config_to_json(tiny_config(**fields)))


BUDGET = jobs.Budget((0, 1, 2), 300, 200, 32, 100, 3, 50)


def test_budget_config_applies_the_budget_and_keeps_the_recipe():
    values = _values(warmup_steps=1_000, chunk_length=500, utd=3, retention="none")
    config = jobs.budget_config(values, BUDGET, "d.hdf5", "hopper", {"beta": 7.0})
    assert (config.offline_steps, config.online_steps, config.seeds) == (300, 200, (0, 1, 2))
    assert (config.eval_every, config.eval_episodes, config.keep_checkpoints) == (100, 3, 1)
    assert (config.chunk_length, config.warmup_steps) == (100, 50)  # capped by the budget
    assert (config.dataset, config.task, config.utd, config.retention) == (
        "d.hdf5",
        "hopper",
        3,
        "none",
    )
    assert config.agent.beta == 7.0
    depth = len(values["agent"]["hidden_dims"])
    assert config.agent.hidden_dims == (32,) * depth
    assert values["agent"]["beta"] != 7.0  # the caller's mapping is left alone
    scratch = jobs.budget_config(_values(offline_steps=0), BUDGET, "d.hdf5", "hopper")
    assert scratch.offline_steps == 0  # trained from scratch stays so
    with pytest.raises(KeyError, match="no agent field 'nope'"):
        jobs.budget_config(values, BUDGET, "d.hdf5", "hopper", {"nope": 1})


def test_budget_config_scales_schedule_lengths_with_their_phase():
    """tiny_config: 40 offline + 40 online steps; BUDGET: 300 + 200. SPOT's VAE steps follow
    the offline steps, its λ cooling the online ones; a setting given explicitly is kept."""
    values = _values(algo="spot", agent={"vae_steps": 10, "cool_steps": 30})
    config = jobs.budget_config(values, BUDGET, "d.hdf5", "hopper")
    assert (config.agent.vae_steps, config.agent.cool_steps) == (75, 150)  # 10·300/40, 30·200/40
    given = jobs.budget_config(values, BUDGET, "d.hdf5", "hopper", {"cool_steps": 7})
    assert given.agent.cool_steps == 7
    assert schedule_fields(SPOTConfig) == {"vae_steps": "offline", "cool_steps": "online"}
    assert schedule_fields(ReBRACConfig) == {"bc_decay_steps": "online"}
    with pytest.raises(ValueError, match="schedule='warmup'"):
        dynamic(1.0, schedule="warmup")


def test_finished_summaries_and_groups_read_a_job_tree(tmp_path, capsys):
    for group, name in [("b", "iql"), ("c", "cql"), ("c", "iql")]:
        (tmp_path / group / name).mkdir(parents=True)
        (tmp_path / group / name / "summary.json").write_text(json.dumps({"name": name}))
    (tmp_path / "d" / "iql").mkdir(parents=True)  # unfinished: no group of its own
    assert jobs.finished_groups(tmp_path, ["a", "c"]) == ["a", "c", "b"]
    summaries, missing = jobs.finished_summaries(tmp_path / "c", ["iql", "bc", "cql"])
    assert list(summaries) == ["iql", "cql"] and missing == ["bc"]
    assert jobs.finished_summary(tmp_path / "d" / "iql") is None
    # A finished job is read, not rerun (nothing is trained: its config is never looked at).
    done = jobs.run_jobs([jobs.Job("c/cql", None, tmp_path / "c" / "cql")])
    assert done == {"c/cql": {"name": "cql"}}
    assert capsys.readouterr().out == ""


def _row(algo, **metrics):
    return {"algo": algo, **metrics}


def test_claims_are_data_checked_by_one_function():
    lead = claims.Ranked("A and B lead", "score", ("a", "b"), top=2, value="+.0f")
    rows = [_row("a", score=3.0), _row("c", score=2.0), _row("b", score=1.0)]
    assert claims.verdicts(rows, [lead]) == [
        "A and B lead: holds for A only; top 2: a (+3), c (+2)."
    ]
    rows.append(_row("d", score=float("nan")))  # not finite: not ranked
    assert claims.verdicts(rows[1:], [lead])[0].startswith("A and B lead: not tested (no a run)")
    assert claims.verdicts([_row("d", score=np.nan)], [lead]) == []
    pair = claims.Pairwise(
        "B beats A", "score", better="b", worse="a", at_most=0.0, unseen="unseen", shown="{better}"
    )
    assert claims.verdicts([_row("a", score=-1.0), _row("b", score=0.5)], [pair]) == [
        "B beats A: holds (0.5)."
    ]
    assert claims.verdicts([_row("a", score=1.0), _row("b", score=0.5)], [pair]) == [
        "B beats A: unseen (0.5)."
    ]
    assert claims.verdicts([_row("b", score=0.5)], [pair]) == []  # untestable: left out
    assert claims.verdicts([], claims.CLAIMS) == []


def test_target_against_a_number_or_another_value_of_the_row():
    row = {"iql_mean": 40.0, "data_score": 42.0}
    assert not claims.Target("iql_mean", "data_score").met(row)
    assert claims.Target("iql_mean", 40.0).met(row)
