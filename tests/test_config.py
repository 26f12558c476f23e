"""Configs: every shipped config builds; every bad setting stops before compilation."""

import dataclasses
import importlib
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import jaxrl.run
import jaxrl.training.programs
from jaxrl import data
from jaxrl.config import ConfigError, TrainConfig, from_mapping, validate
from tests.helpers import random_arrays, tiny_config, write_dataset

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIGS = sorted(p.stem for p in (ROOT / "experiments/configs").glob("[a-z]*.py"))


@pytest.mark.parametrize("name", CONFIGS)
def test_every_config_builds(name):
    module = importlib.import_module(f"experiments.configs.{name}")
    config = from_mapping(module.get_config().to_dict())
    validate(config)
    assert config.agent is not None


#: What the README's config table says of each config, as (TrainConfig or agent field, value).
README_TABLE = {
    "default": {"algo": "iql", "dataset": "halfcheetah-medium-v0", "offline_steps": 10_000,
                "online_steps": 10_000, "seeds": (0, 1, 2, 3), "offline_ratio": 0.5,
                "retention": "mixed", "agent.expectile": 0.7, "agent.beta": 3.0,
                "agent.hidden_dims": (128, 128)},
    "rlpd": {"algo": "sac", "offline_steps": 0, "offline_ratio": 0.5, "utd": 20,
             "agent.num_critics": 10, "agent.critic_layer_norm": "before_act",
             "agent.target_reduction": "subset_min", "agent.subset_size": 2,
             "agent.subset_replace": False, "agent.actor_reduction": "mean"},
    "wsrl": {"algo": "wsrl", "retention": "none", "utd": 4, "agent.num_critics": 10},
    "sacn": {"agent.num_critics": 10, "agent.diversity": False},
    "edac": {"agent.num_critics": 10, "agent.diversity": True},
    "xql": {"agent.loss_temperature": 2.0, "agent.max_clip": 7.0, "agent.huber_delta": 20.0,
            "retention": "append"},
    "fdvl": {"agent.f": "chi2", "agent.mixing_weight": 0.8, "retention": "append"},
    "bc10": {"agent.top_fraction": 0.1},
    "gpu": {"algo": "iql", "offline_steps": 1_000_000, "online_steps": 1_000_000,
            "seeds": tuple(range(16))},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(README_TABLE))
def test_configs_hold_what_the_readme_table_says(name):
    config = from_mapping(importlib.import_module(f"experiments.configs.{name}").get_config())
    agent = config.agent_config()
    for field, value in README_TABLE[name].items():
        got = getattr(agent, field[6:]) if field.startswith("agent.") else getattr(config, field)
        assert got == value, f"{name}: {field} = {got!r}, the README says {value!r}"
    readme = (ROOT / "README.md").read_text()
    assert f"`{name}`" in readme, f"the README's config table has no row for {name}"


def _train(*args):
    return subprocess.run(
        [sys.executable, str(ROOT / "experiments/train.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_train_help_lists_configs():
    out = _train("--help")
    assert out.returncode == 0 and "--config" in out.stdout, out.stderr
    # Every field of the chosen config, with its value and its comment.
    assert "  --config.offline_steps=10000  gradient steps on the dataset\n" in out.stdout
    assert "  --config.agent.beta=3.0  inverse temperature of the AWR actor weights" in out.stdout
    td3bc = _train("--config=experiments/configs/td3bc.py", "--help").stdout
    # Inherited from the TD3 family's config, with the comment written there.
    assert "  --config.agent.policy_noise=0.2  σ of the target policy smoothing noise" in td3bc
    for name in CONFIGS:
        if name != "default":
            assert f"  {name} " in out.stdout, name


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--config.agent.betta=3", "config error: unknown field 'betta'; did you mean 'beta'?"),
        ("--config.offline_step=5", "did you mean 'offline_steps'?"),
        ("--config.seeds=3", "for 3 seeds write --config.seeds='(0,1,2)', for seed 3 alone"),
        ("--config.offline_steps=abc", "--config.offline_steps=abc: invalid literal for int()"),
    ],
)
def test_a_bad_flag_is_one_line_naming_it(flag, message):
    out = _train(flag)
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert message in out.stderr


def test_every_train_config_field_is_overridable_from_the_default_config():
    """experiments/configs/default.py (and so every config file) holds every TrainConfig field:
    each is a --config.FIELD flag."""
    from experiments.configs import default

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(default.get_config().keys()) == fields


@pytest.fixture
def no_compile(monkeypatch):
    """Fails the test if the run gets as far as building a compiled chunk."""

    def boom(*args, **kwargs):
        raise AssertionError("reached compilation")

    monkeypatch.setattr(jaxrl.training.programs, "make_offline_chunk", boom)


@pytest.mark.parametrize(
    "values, match",
    [
        ({"algo": "dqn"}, r"algo='dqn' is not allowed; allowed values: \['a2pr', 'awac', 'bc'"),
        ({"offline_step": 5}, r"unknown config field\(s\) \['offline_step'\]; allowed: \["),
        ({"agent": {"betta": 1.0}}, r"unknown field\(s\) \['betta'\] for algorithm 'iql'"),
        # A field renamed for the one vocabulary names its new name (a saved run's config).
        (
            {"algo": "sac", "agent": {"hidden_dims": [16], "temp_lr": 1e-4}},
            r"'hidden_dims' is now 'actor_hidden_dims'; 'temp_lr' is now 'temperature_lr'",
        ),
        # IQL's `hidden_dims` is every network's, so no hint for an unrelated name there.
        ({"agent": {"policy_freq": 2}}, r"\['policy_freq'\] for algorithm 'iql'; allowed"),
    ],
)
def test_unknown_names_are_refused(values, match):
    with pytest.raises(ConfigError, match=match):
        from_mapping(values)


@pytest.mark.parametrize(
    "fields, match",
    [
        ({"offline_steps": -20}, r"offline_steps=-20 must be >= 0"),
        ({"offline_ratio": 1.5}, r"offline_ratio=1.5 must lie in \[0, 1\]"),
        ({"offline_ratio": -0.1}, r"offline_ratio=-0.1 must lie in \[0, 1\]"),
        ({"batch_size": 0}, r"batch_size=0 must be a positive integer"),
        ({"retention": "keep"}, r"retention='keep' is not allowed; allowed values: \['append'"),
        ({"task": "cartpole"}, r"task='cartpole' is not allowed; allowed values: \["),
        ({"offline_steps": 30}, r"offline_steps=30 must be a multiple of chunk_length=20"),
        ({"seeds": ()}, r"seeds is empty"),
        ({"seeds": (1, 1)}, r"duplicates"),
    ],
)
def test_impossible_settings_stop_before_compilation(fields, match, no_compile, tmp_path):
    config = tiny_config("iql", dataset=write_dataset(tmp_path / "d.hdf5"), **fields)
    with pytest.raises(ConfigError, match=match):
        jaxrl.run.run(config, tmp_path / "run", progress=False)


def test_batch_larger_than_dataset(no_compile, tmp_path):
    config = tiny_config("iql", dataset=write_dataset(tmp_path / "d.hdf5", n=64), batch_size=128)
    with pytest.raises(ConfigError, match=r"batch_size=128 is larger than the dataset \(64 rows\)"):
        jaxrl.run.build(config)


def test_dataset_of_the_wrong_size_for_the_task(no_compile, tmp_path):
    path = write_dataset(tmp_path / "small.hdf5", obs_dim=5, action_dim=6)
    with pytest.raises(data.DatasetError, match=r"small.hdf5.*observations.*17"):
        jaxrl.run.build(tiny_config("iql", dataset=path))


def test_dataset_with_nan(no_compile, tmp_path):
    arrays = random_arrays(64, 17, 6)
    arrays["rewards"][9] = np.nan
    path = tmp_path / "nan.hdf5"
    import h5py

    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f[k] = v
    with pytest.raises(data.DatasetError, match=r"nan.hdf5.*rewards.*first offending index 9"):
        jaxrl.run.build(tiny_config("iql", dataset=str(path)))


def test_dataset_from_another_task(no_compile, tmp_path):
    path = write_dataset(tmp_path / "hop.hdf5", task="walker2d")
    with pytest.raises(data.DatasetError, match=r"made for task 'walker2d'.*task is 'halfcheetah'"):
        jaxrl.run.build(tiny_config("iql", dataset=path))


def test_missing_dataset_names_the_generator(no_compile, tmp_path, monkeypatch):
    monkeypatch.setenv("JAXRL_DATA", str(tmp_path))
    with pytest.raises(data.DatasetError, match="make_datasets.py"):
        jaxrl.run.build(tiny_config("iql", dataset="no-such-dataset"))


def test_config_is_frozen():
    config = TrainConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.batch_size = 3  # type: ignore[misc]


def test_a_run_written_before_new_fields_existed_resumes():
    """Fields added since a run directory was written take their defaults, not `None`."""
    import json

    from jaxrl.config import config_to_json
    from jaxrl.run import check_config_change

    config = TrainConfig(algo="iql")
    old = json.loads(config_to_json(config))
    del old["sampler"], old["agent"]["q_reduction"]
    assert check_config_change(old, config, "runs/x") == []
    old["batch_size"] = 64  # a real difference is still refused
    with pytest.raises(ConfigError, match="batch_size: 64 → 256"):
        check_config_change(old, config, "runs/x")


@pytest.mark.parametrize(
    "dataset, name",
    [
        ("/data/d4rl/hopper-medium-v2.hdf5", "iql-hopper-medium-v2-T"),
        ("rel/dir/mine.npz", "iql-mine-T"),
        ("halfcheetah-medium-v0", "iql-halfcheetah-medium-v0-T"),
        ("", "iql-halfcheetah-T"),
    ],
)
def test_default_workdir_is_one_clean_directory(dataset, name):
    workdir = jaxrl.run.default_workdir(TrainConfig(dataset=dataset), "runs", "T")
    assert workdir == pathlib.Path("runs") / name
