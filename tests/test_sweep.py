"""Sweeps in the run axis: expansion, refusals, per-run values, and sharding over devices."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import sweep
from jaxrl.agents.base import dynamic_names
from jaxrl.agents.iql import make_iql
from jaxrl.agents.registry import AGENTS, agent_config, make_agent
from jaxrl.config import ConfigError, config_to_json, from_mapping, validate
from jaxrl.logging import read_metrics
from jaxrl.specs import EnvSpec
from jaxrl.types import empty_transition
from tests.helpers import TINY, tiny_config, write_dataset

ROOT = Path(__file__).resolve().parent.parent
SPEC = EnvSpec(obs_dim=5, action_dim=2)


# --------------------------------------------------------------------------- expansion


def test_grid_is_settings_major_then_seeds_in_given_key_order():
    config = tiny_config(
        seeds=(7, 3), sweep={"agent.beta": (1, 3, 10), "offline_ratio": (0.25, 0.5)}
    )
    runs = sweep.expand(config)
    assert config.num_runs == len(runs) == 3 * 2 * 2
    assert [r.run for r in runs] == list(range(12))
    assert [r.seed for r in runs] == [7, 3] * 6
    # The last key varies fastest; the two seeds of a setting are adjacent.
    expected = [(b, o) for b in (1.0, 3.0, 10.0) for o in (0.25, 0.5) for _ in (7, 3)]
    assert [(r.settings["agent.beta"], r.settings["offline_ratio"]) for r in runs] == expected
    assert sweep.settings_of(runs)[1] == {"agent.beta": 1.0, "offline_ratio": 0.5}


def test_no_sweep_is_one_empty_setting_per_seed():
    runs = sweep.expand(tiny_config(seeds=(0, 1, 2)))
    assert [(r.run, r.seed, r.settings) for r in runs] == [(0, 0, {}), (1, 1, {}), (2, 2, {})]


def test_random_sweep_is_reproducible_and_inside_its_ranges():
    fields = dict(
        seeds=(0,),
        sweep={"agent.actor_lr": {"log_uniform": [1e-5, 1e-3]}, "agent.beta": [1, 3, 10]},
        sweep_mode="random",
        sweep_samples=40,
    )
    a = sweep.expand(tiny_config(sweep_seed=1, **fields))
    b = sweep.expand(tiny_config(sweep_seed=1, **fields))
    c = sweep.expand(tiny_config(sweep_seed=2, **fields))
    assert len(a) == 40 and a == b and a != c
    lrs = np.array([r.settings["agent.actor_lr"] for r in a])
    assert np.all((lrs >= 1e-5) & (lrs <= 1e-3))
    assert np.mean(lrs < 1e-4) > 0.25  # log-uniform: a decade below 1e-4 holds about half
    assert {r.settings["agent.beta"] for r in a} == {1.0, 3.0, 10.0}


def test_padding_repeats_the_last_run_and_marks_it():
    runs = sweep.pad(sweep.expand(tiny_config(seeds=(0, 1, 2))), 4)
    assert [(r.run, r.seed, r.padding) for r in runs] == [
        (0, 0, False),
        (1, 1, False),
        (2, 2, False),
        (3, 2, True),
    ]
    assert sweep.pad(runs[:2], 2) == runs[:2]


def test_sweep_from_json_string_and_config_json_round_trip():
    config = from_mapping(
        {"seeds": [0, 1], "sweep": '{"agent.expectile": [0.7, 0.9], "offline_ratio": [0.5]}'}
    )
    assert config.num_runs == 4
    stored = json.loads(config_to_json(config))
    assert stored["sweep"] == {"agent.expectile": [0.7, 0.9], "offline_ratio": [0.5]}
    stored["runs"] = [r.to_dict() for r in sweep.expand(config)]  # as run.py writes it
    assert sweep.expand(from_mapping(stored)) == sweep.expand(config)


def test_config_file_and_absl_override(monkeypatch):
    from absl import flags
    from ml_collections import config_flags

    fv = flags.FlagValues()
    config_flags.DEFINE_config_file(
        "config", str(ROOT / "experiments/configs/sweep_iql_temperature.py"), flag_values=fv
    )
    fv(["prog"])
    config = from_mapping(fv.config.to_dict())
    validate(config)
    assert config.num_runs == 9  # 3 β values × 3 seeds, one program
    assert [r.settings["agent.beta"] for r in sweep.expand(config)] == [1.0] * 3 + [3.0] * 3 + [
        10.0
    ] * 3
    argv = [
        "prog",
        f"--config={ROOT / 'experiments/configs/default.py'}",
        """--config.sweep={"agent.expectile": [0.7, 0.8, 0.9]}""",
        "--config.seeds=(0,)",
    ]
    monkeypatch.setattr(sys, "argv", argv)  # config_flags reads the overrides from sys.argv
    fv = flags.FlagValues()
    config_flags.DEFINE_config_file("config", flag_values=fv)
    fv(argv)
    config = from_mapping(fv.config.to_dict())
    assert [r.settings for r in sweep.expand(config)] == [
        {"agent.expectile": v} for v in (0.7, 0.8, 0.9)
    ]


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "fields, match",
    [
        ({"sweep": {"agent.hidden_dims": [(16,), (32,)]}}, "needs separate programs|not a number"),
        ({"sweep": {"agent.num_critics": [2, 4]}}, "agent.num_critics.*separate programs"),
        ({"sweep": {"batch_size": [16, 32]}}, "batch_size.*static.*separate programs"),
        ({"sweep": {"offline_steps": [20, 40]}}, "offline_steps.*separate programs"),
        ({"sweep": {"agent.betta": [1, 3]}}, r"unknown sweep key 'agent.betta'.*agent\.beta"),
        ({"sweep": {"agent.beta": []}}, "'agent.beta' has no values"),
        ({"sweep": {"seeds": [0, 1]}}, "list them in seeds"),
        ({"sweep": {"offline_ratio": [0.5, 1.5]}}, r"offline_ratio=1.5 must lie in \[0, 1\]"),
        ({"sweep": {"agent.beta": ["high"]}}, "not a number"),
        ({"sweep": {"agent.beta": {"uniform": [1, 3]}}}, "only sweep_mode='random'"),
        ({"sweep": {"agent.beta": [1]}, "sweep_mode": "random"}, "needs sweep_samples > 0"),
        ({"sweep": {"agent.beta": [1]}, "sweep_mode": "bayes"}, "sweep_mode='bayes'"),
        ({"sweep": "{agent.beta: [1]}"}, "not valid JSON"),
    ],
)
def test_bad_sweeps_are_refused_with_the_fix(fields, match):
    with pytest.raises(ConfigError, match=match):
        validate(tiny_config(**fields))


def test_unknown_key_message_lists_the_sweepable_keys():
    with pytest.raises(ConfigError) as err:
        validate(tiny_config(sweep={"lr": [1e-4]}))
    for key in ("offline_ratio", "agent.beta", "agent.expectile", "agent.actor_lr"):
        assert key in str(err.value)
    assert "agent.hidden_dims" not in str(err.value)


def test_a_static_field_is_refused_naming_it():
    config = tiny_config(sweep={"agent.max_weight": [10.0, 100.0]})
    with pytest.raises(ConfigError, match="'agent.max_weight' is static.*separate programs"):
        validate(config)


def _config_files() -> dict[str, Path]:
    """Registered algorithm -> the first experiments/configs file that trains it."""
    files = {}
    for path in sorted((ROOT / "experiments/configs").glob("[a-z]*.py")):
        files.setdefault(_file_config(path).algo, path)
    return files


def _file_config(path: Path):
    module = f"experiments.configs.{path.stem}"
    __import__(module)
    return sys.modules[module].get_config()


def _file_agent(path: Path) -> dict:
    return _file_config(path).agent.to_dict()


def _from_command_line(config_file: Path, argv: list[str]):
    """The TrainConfig that experiments/train.py builds from `--config=<file> *argv`."""
    from absl import flags
    from ml_collections import config_flags

    values = flags.FlagValues()
    argv = ["train.py", f"--config={config_file}", *argv]
    config_flags.DEFINE_config_file(
        "config", None, "", flag_values=values, lock_config=True, sys_argv=argv
    )
    values(argv)
    return from_mapping(values.config.to_dict())


CONFIG_FILES = _config_files()


@pytest.mark.slow
def test_a_sweep_runs_end_to_end_from_train_py(tmp_path):
    """`experiments/train.py --config.sweep=...` trains one run per setting in one job and
    records each run's value (a tiny IQL job on a written dataset)."""
    dataset = write_dataset(tmp_path / "d.h5", n=256, obs_dim=4, action_dim=1,
                            task="inverted_pendulum")  # fmt: skip
    flags = {
        "dataset": dataset, "task": "inverted_pendulum", "seeds": "(0,)", "offline_steps": 20,
        "online_steps": 20, "chunk_length": 10, "eval_every": 10, "eval_episodes": 1,
        "episode_length": 10, "batch_size": 8, "keep_checkpoints": 0,
        "agent.hidden_dims": "(16,16)", "sweep": json.dumps({"agent.beta": [1.0, 3.0]}),
    }  # fmt: skip
    argv = [f"--config.{k}={v}" for k, v in flags.items()]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "experiments/train.py"), f"--workdir={tmp_path / 'run'}",
         "--quiet", *argv],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert [r["settings"] for r in summary["runs"]] == [{"agent.beta": 1.0}, {"agent.beta": 3.0}]
    assert {r["run"] for r in read_metrics(tmp_path / "run")} == {0, 1}


def test_every_registered_algorithm_has_a_config_file():
    assert sorted(CONFIG_FILES) == sorted(AGENTS)


def _static_number_field(cfg) -> str:
    """A static field of `cfg` holding a number (every algorithm has one)."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.name not in dynamic_names(cfg) and type(value) in (int, float):
            return f.name
    raise AssertionError(f"{type(cfg).__name__} has no static number field")


@pytest.mark.parametrize("algo", sorted(AGENTS))
def test_every_dynamic_field_sweeps_from_the_cli_and_a_static_one_is_refused(algo):
    """For every algorithm: (1) the dynamic fields are exactly its hparams dataclass's fields,
    and no compiled program depends on their config values (the update, act and switch of an
    agent built with every dynamic field changed trace to the same program); (2) a sweep over
    each dynamic field, given as on the command line, puts each run's value into its state;
    (3) a sweep over a static field is refused naming the field."""
    cfg = agent_config(algo, TINY[algo])
    names = dynamic_names(cfg)
    assert names and [f.name for f in dataclasses.fields(cfg.hparams())] == list(names)
    # Every dynamic value moved, staying valid (f-DVL's λ < 1, XQL's β > 0).
    changed = dataclasses.replace(cfg, **{n: getattr(cfg, n) * 0.75 + 0.0625 for n in names})
    batch = empty_transition(SPEC.obs_dim, SPEC.action_dim, (2,), next_action=True)
    batch = batch.replace(mc_return=jnp.zeros((2,)))

    def bound(c):
        agent = make_agent(algo, c, SPEC)
        return agent if agent.bind_dataset is None else agent.bind_dataset(batch)

    a, b = bound(cfg), bound(changed)
    state = jax.eval_shape(a.init, jax.random.key(0))
    obs = jnp.zeros((SPEC.obs_dim,))
    programs = {
        "update": lambda ag: jax.make_jaxpr(ag.update)(state, batch, jax.random.key(0)),
        "act": lambda ag: jax.make_jaxpr(lambda s, o: ag.act(s, o, jax.random.key(0), False))(
            state, obs
        ),
        "to_online": lambda ag: jax.make_jaxpr(ag.to_online)(state),
    }
    for what, trace in programs.items():
        assert str(trace(a)) == str(trace(b)), f"{algo}'s {what} reads a dynamic field's config"

    # (2) Every dynamic field at once, parsed from the command line as experiments/train.py
    # parses it: the algorithm's config file, --config.sweep as JSON, the tiny widths as flags.
    sweep_arg = json.dumps({f"agent.{n}": [getattr(cfg, n), getattr(changed, n)] for n in names})
    argv = [f"--config.agent.{k}={v}".replace(" ", "") for k, v in TINY[algo].items()]
    argv += [f"--config.sweep={sweep_arg}", "--config.sweep_samples=0", "--config.seeds=(0,)"]
    config = _from_command_line(CONFIG_FILES[algo], argv)
    assert config.algo == algo and config.agent_config() == agent_config(algo, {
        **{k: v for k, v in _file_agent(CONFIG_FILES[algo]).items()}, **TINY[algo]
    })  # fmt: skip
    validate(config)
    runs = sweep.expand(config)
    first, last = runs[0].settings, runs[-1].settings
    hparams, _ = sweep.run_hparams(config, [runs[0], runs[-1]])
    agent = make_agent(algo, config.agent_config(), SPEC)
    # Each run's init from its row of the stacked values (eager: no compilation needed).
    rows = [jax.tree.map(lambda x, i=i: x[i], hparams) for i in (0, 1)]
    states = [agent.init(jax.random.key(0), row) for row in rows]
    states = jax.tree.map(lambda *x: np.stack(x), *states)
    for n in names:
        got = np.asarray(getattr(states.hparams, n))
        np.testing.assert_allclose(got, [first[f"agent.{n}"], last[f"agent.{n}"]], rtol=1e-6)
        lr_of = n.removesuffix("_lr")
        if n.endswith("_lr") and lr_of in states.opt_states:
            lr = states.opt_states[lr_of].hyperparams["learning_rate"]
            np.testing.assert_allclose(lr, got, rtol=1e-6, err_msg=f"{algo}: {n}")

    # (3)
    static = _static_number_field(cfg)
    with pytest.raises(ConfigError, match=f"'agent.{static}' is static"):
        validate(tiny_config(algo, sweep={f"agent.{static}": [1, 2]}))


def test_vmapped_init_puts_each_runs_values_in_its_leaves():
    config = tiny_config(seeds=(0, 1), sweep={"agent.beta": [1, 3], "agent.actor_lr": [1e-3]})
    runs = sweep.expand(config)
    hparams, ratios = sweep.run_hparams(config, runs)
    keys = jax.vmap(jax.random.key)(np.array([r.seed for r in runs], np.uint32))
    agent = make_iql(config.agent_config(), SPEC)
    states = jax.jit(jax.vmap(agent.init))(keys, hparams)
    np.testing.assert_array_equal(states.hparams.beta, [1, 1, 3, 3])
    np.testing.assert_allclose(states.opt_states["actor"].hyperparams["learning_rate"], 1e-3)
    np.testing.assert_allclose(states.opt_states["critic"].hyperparams["learning_rate"], 3e-4)
    np.testing.assert_allclose(states.hparams.expectile, [0.7] * 4)  # not swept: the default
    np.testing.assert_allclose(ratios, [config.offline_ratio] * 4)
    # Same seed, same initial parameters whatever the setting (common random numbers).
    flat = np.concatenate([x.reshape(4, -1) for x in jax.tree.leaves(states.params)], 1)
    np.testing.assert_array_equal(flat[0], flat[2])
    assert not np.array_equal(flat[0], flat[1])


# --------------------------------------------------------------------------- sharding


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    """tests/sweep_job.py under 4 fake CPU devices: the sweep on 4, 3 (padded) and 1 device.

    Three device layouts compile three sets of Brax programs: about 4 minutes on an idle
    2-core CPU, the costliest fixture of the suite, run by .ci/run all the same (the tests using
    it are marked slow). JAXRL_TEST_SHARDING=0 skips them for quick local runs.
    """
    if os.environ.get("JAXRL_TEST_SHARDING") == "0":
        pytest.skip("JAXRL_TEST_SHARDING=0: the multi-device sweep is skipped")
    out = tmp_path_factory.mktemp("sweep")
    # inverted_pendulum: the same code paths as halfcheetah at a fraction of the compile time.
    dataset = write_dataset(out / "tiny.hdf5", obs_dim=4, action_dim=1, task="inverted_pendulum")
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests/sweep_job.py"), str(out), dataset],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads((out / "result.json").read_text()), np.load(out / "result.npz")


@pytest.mark.slow
def test_sharded_sweep_equals_one_device(sharded):
    _, result, arrays = sharded
    for name in ("dev4", "dev3"):
        np.testing.assert_allclose(
            arrays[f"{name}_params"][:8], arrays["dev1_params"], rtol=1e-4, atol=1e-5
        )
        np.testing.assert_allclose(
            arrays[f"{name}_returns"], arrays["dev1_returns"], rtol=1e-4, atol=1e-4
        )
        final = [r["final_score"] for r in result[name]["summary"]["runs"]]
        dev1 = [r["final_score"] for r in result["dev1"]["summary"]["runs"]]
        np.testing.assert_allclose(final, dev1, rtol=1e-4, atol=1e-3)
    # Settings differ, so runs differ: the comparison above is not between identical runs.
    params = arrays["dev1_params"]
    assert not np.allclose(params[0], params[2]) and not np.allclose(params[0], params[1])
    np.testing.assert_array_equal(arrays["dev4_beta"], [1, 1, 1, 1, 10, 10, 10, 10])


@pytest.mark.slow
def test_sharded_sweep_logs_the_same_metrics_as_one_device(sharded):
    out, _, _ = sharded
    dev1 = read_metrics(out / "dev1")
    assert len(dev1) == 4 * 8  # 4 chunks × 8 runs
    for name in ("dev4", "dev3"):
        records = read_metrics(out / name)
        assert len(records) == len(dev1)
        for a, b in zip(records, dev1, strict=True):
            assert set(a) == set(b)
            for key, value in b.items():
                if key == "time":
                    continue
                if isinstance(value, float):
                    np.testing.assert_allclose(a[key], value, rtol=1e-4, atol=1e-5, err_msg=key)
                else:
                    assert a[key] == value, key


@pytest.mark.slow
def test_sharded_sweep_compiles_once_per_phase_and_splits_the_run_axis(sharded):
    _, result, _ = sharded
    for name, n_dev in (("dev4", 4), ("dev3", 3), ("dev1", 1)):
        info = result[name]
        # XLA compilations: one offline chunk and one online chunk (both named `guarded`),
        # one evaluator for both phases, one switch. (The evaluator's dispatch cache holds two
        # entries, one per phase's argument signature, that share one executable.)
        assert info["compiles"] == {"guarded": 2, "evaluate": 1, "switch": 1}, name
        cache = info["cache_entries"]
        assert cache["offline_chunk"] == cache["online_chunk"] == cache["switch"] == 1, name
        assert info["state_sharded"] and info["state_devices"] == n_dev
        assert info["dataset_replicated"]
    assert result["dev3"]["run_axis"] == 9  # 8 runs padded with a copy of the last


@pytest.mark.slow
def test_padding_runs_stay_out_of_logs_and_summary(sharded):
    out, result, _ = sharded
    stored = json.loads((out / "dev3" / "config.json").read_text())
    runs = stored["runs"]
    assert len(runs) == 8
    records = read_metrics(out / "dev3")
    assert {r["run"] for r in records} == set(range(8))
    for r in records:
        assert r["seed"] == runs[r["run"]]["seed"]
        assert sweep.record_settings(r) == runs[r["run"]]["settings"]
    summary = result["dev3"]["summary"]
    assert [(r["run"], r["seed"], r["settings"]) for r in summary["runs"]] == [
        (r["run"], r["seed"], r["settings"]) for r in runs
    ]
    groups = summary["settings"]
    assert [g["runs"] for g in groups] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert groups[3]["settings"] == {"agent.beta": 10.0, "offline_ratio": 0.75}


@pytest.mark.slow
def test_checkpoint_restores_into_the_run_axis_split(sharded):
    _, result, _ = sharded
    info = result["dev4"]
    assert info["restored_sharding_mismatch"] == [] and info["restored_equal"]
    assert info["restored_meta_run_axis"] == 8
    assert info["resumed_summary_equal"]


# --------------------------------------------------------------------------- several processes


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """tests/multihost_job.py as a real two-process `jax.distributed` job on localhost (2 CPU
    devices each), the way two hosts run it: same command, same workdir, coordinator on
    127.0.0.1."""
    if os.environ.get("JAXRL_TEST_SHARDING") == "0":
        pytest.skip("JAXRL_TEST_SHARDING=0: the multi-process sweep is skipped")
    out = tmp_path_factory.mktemp("multihost")
    dataset = write_dataset(out / "tiny.hdf5", obs_dim=4, action_dim=1, task="inverted_pendulum")
    port = _free_port()
    procs = []
    for i in range(2):
        env = {
            **os.environ,
            "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
            "JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{port}",
            "JAX_NUM_PROCESSES": "2",
            "JAX_PROCESS_ID": str(i),
        }
        cmd = [sys.executable, str(ROOT / "tests/multihost_job.py"), str(out), dataset]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    logs = [p.communicate(timeout=1800) for p in procs]
    for p, (_, err) in zip(procs, logs, strict=True):
        assert p.returncode == 0, err.decode()[-3000:]
    info = [json.loads((out / f"process_{i}.json").read_text()) for i in range(2)]
    arrays = [np.load(out / f"process_{i}.npz") for i in range(2)]
    return out, info, arrays


def one_summary(sharded):
    _, result, _ = sharded
    return result["dev1"]["summary"]["runs"]


@pytest.mark.slow
def test_two_process_sweep_equals_one_process(two_processes, sharded):
    out, info, arrays = two_processes
    assert [i["process_index"] for i in info] == [0, 1]
    for i in info:
        assert (i["process_count"], i["devices"], i["local_devices"]) == (2, 4, 2)
    assert [i["writer"] for i in info] == [True, False]
    _, _, one = sharded
    for a in arrays:  # every process gathers every run
        np.testing.assert_allclose(a["params"], one["dev1_params"], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(a["returns"], one["dev1_returns"], rtol=1e-4, atol=1e-4)
    dev1 = [r["final_score"] for r in one_summary(sharded)]
    np.testing.assert_allclose(info[0]["final_scores"], dev1, rtol=1e-4, atol=1e-3)
    assert info[1]["final_scores"] is None  # run() returns the summary on the writer only
    # One writer: the metrics hold each (chunk, run) record once.
    records = read_metrics(out / "multihost")
    assert len(records) == 4 * 8
    assert len({(r["step"], r["run"]) for r in records}) == len(records)
