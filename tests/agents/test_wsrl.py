"""WSRL's hand-off: CQL offline, SAC online on the same state, with no recompilation."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.agents.registry import agent_config, make_agent
from jaxrl.agents.sac import make_sac
from jaxrl.agents.wsrl.agent import online_sac_config
from jaxrl.specs import EnvSpec
from tests.helpers import TINY
from tests.test_agents import _batch

SPEC = EnvSpec(obs_dim=5, action_dim=2)


def _agent(**overrides):
    cfg = agent_config("wsrl", {**TINY["wsrl"], **overrides})
    return cfg, make_agent("wsrl", cfg, SPEC)


def _utd_batches():
    return jax.tree.map(lambda x: x.reshape((4, 8) + x.shape[1:]), _batch())


def test_online_updates_ignore_the_conservative_weight():
    """Online, WSRL is plain SAC: the CQL weight changes offline updates but not online ones."""
    _, low = _agent(cql_alpha=0.0)
    _, high = _agent(cql_alpha=100.0)
    state_low, state_high = low.init(jax.random.key(0)), high.init(jax.random.key(0))
    off_low, _ = jax.jit(low.update)(state_low, _batch(), jax.random.key(1))
    off_high, _ = jax.jit(high.update)(state_high, _batch(), jax.random.key(1))
    diff = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), off_low, off_high)
    assert max(jax.tree.leaves(diff.params["critic"])) > 1e-4

    on_low, m_low = jax.jit(low.update_utd)(state_low, _utd_batches(), jax.random.key(2))
    on_high, m_high = jax.jit(high.update_utd)(
        state_high.replace(hparams=state_low.hparams), _utd_batches(), jax.random.key(2)
    )
    chex.assert_trees_all_close(on_low.params, on_high.params)
    assert (
        "cql_gap" not in m_low
        and "cql_gap" in _agent()[1].update(state_low, _batch(), jax.random.key(1))[1]
    )


def test_online_step_is_wsrl_sac_on_the_pretrained_state():
    """Critic steps per 256-row slice, one actor step on all rows, learning rates carried over."""
    cfg, agent = _agent()
    state = agent.init(jax.random.key(0))
    pretrained, _ = jax.jit(agent.update)(state, _batch(), jax.random.key(1))
    online = agent.to_online(pretrained)
    chex.assert_trees_all_equal_shapes_and_dtypes(online, pretrained)
    new, metrics = jax.jit(agent.update_utd)(online, _utd_batches(), jax.random.key(2))
    assert int(new.opt_states["critic"].inner_state[0].count) == 1 + 4
    assert int(new.opt_states["actor"].inner_state[0].count) == 1 + 1
    # WSRL's learning rates: actor and temperature 1e-4, critics 3e-4, kept from pre-training.
    lr = {k: float(v.hyperparams["learning_rate"]) for k, v in new.opt_states.items()}
    np.testing.assert_allclose([lr["actor"], lr["temperature"], lr["critic"]], [1e-4, 1e-4, 3e-4])
    # The same as a SAC learner built with WSRL's online settings, applied to that state.
    sac = make_sac(online_sac_config(cfg), SPEC)
    ref, _ = jax.jit(sac.update_utd)(online, _utd_batches(), jax.random.key(2))
    chex.assert_trees_all_close(new.params, ref.params)
    assert np.isfinite(float(metrics["critic_loss"]))
    assert online_sac_config(cfg).actor_update == "full"
    assert online_sac_config(cfg).subset_replace and not online_sac_config(cfg).backup_entropy


def test_wsrl_refuses_a_policy_sac_cannot_take():
    import pytest

    with pytest.raises(ValueError, match="std_mode='state'"):
        _agent(std_mode="calql")


def test_conservative_term_reaches_only_a_random_critic_subset():
    """WSRL's CQL term covers 2 of 10 critics per step, drawn apart from the target's subset.

    Adam's first step is sign-like, so a critic outside the drawn subset moves exactly as with
    w = 0 (its gradient is TD only); the ones inside move differently under a huge w.
    """
    kw = {"num_critics": 10, "cql_subset": True}
    _, plain = _agent(cql_alpha=0.0, **kw)
    _, strong = _agent(cql_alpha=1e3, **kw)
    state = plain.init(jax.random.key(0))
    update_plain, update_strong = jax.jit(plain.update), jax.jit(strong.update)
    chosen = []
    for seed in range(6):
        a, _ = update_plain(state, _batch(), jax.random.key(100 + seed))
        b, _ = update_strong(
            state.replace(hparams=strong.init(jax.random.key(0)).hparams),
            _batch(),
            jax.random.key(100 + seed),
        )
        moved = jax.tree.map(
            lambda x, y: np.abs(np.asarray(x - y)).reshape(10, -1).max(axis=1),
            a.params["critic"],
            b.params["critic"],
        )
        per_critic = np.max(np.stack(jax.tree.leaves(moved)), axis=0)
        members = set(np.flatnonzero(per_critic > 1e-9).tolist())
        assert 1 <= len(members) <= 2, per_critic
        chosen.append(frozenset(members))
    assert len(set(chosen)) > 1  # a fresh subset each step, not a fixed pair


def test_pretraining_temperature_is_wsrls_sac_loss_on_next_states():
    """WSRL's `cql.py` inherits SAC's temperature: α = softplus(λ), initially 1, and
    α·(Ĥ − H_target) with Ĥ from n fresh samples per next state (the max-target backup's
    repeat). Plain CQL keeps Cal-QL's −log α form on the actor's samples at s."""
    from jaxrl.agents.cql.agent import make_cql
    from jaxrl.networks import GaussianPolicy, tanh_gaussian_sample

    cfg, agent = _agent()
    assert (cfg.temperature_param, cfg.temperature_form, cfg.entropy_from) == (
        "softplus",
        "alpha",
        "next_obs",
    )
    state = agent.init(jax.random.key(0))
    batch = _batch()
    new, m = jax.jit(agent.update)(state, batch, jax.random.key(3))
    np.testing.assert_allclose(float(m["alpha"]), 1.0, rtol=1e-6)
    # Keys: 6 of CQL, the conservative subset's, then the entropy sample's (the last).
    entropy_key = jax.random.split(jax.random.key(3), 8)[-1]
    actor = GaussianPolicy(
        2, cfg.actor_hidden_dims, layer_norm=cfg.actor_layer_norm, std_mode=cfg.std_mode
    )
    n = cfg.cql_n_actions
    next_obs = jnp.repeat(batch.next_obs[:, None], n, axis=1)
    _, logp = tanh_gaussian_sample(*actor.apply(state.params["actor"], next_obs), entropy_key)
    assert logp.shape == (batch.reward.shape[0], n)
    gap = -float(np.mean(logp)) + 2.0  # H_target = −|A|
    np.testing.assert_allclose(float(m["temperature_loss"]), gap, rtol=1e-5)
    lr = cfg.temperature_lr
    np.testing.assert_allclose(
        float(new.params["temperature"]),
        float(state.params["temperature"]) - lr * np.sign(gap),
        rtol=1e-5,
    )
    # The same networks under plain CQL's temperature: exp, −log α form, Ĥ at s.
    plain = make_cql(
        dataclasses.replace(
            cfg, temperature_param="exp", temperature_form="log_alpha", entropy_from="obs"
        ),
        SPEC,
    )
    p_state = plain.init(jax.random.key(0))
    assert float(p_state.params["temperature"]) == 0.0
    _, pm = jax.jit(plain.update)(p_state, batch, jax.random.key(3))
    np.testing.assert_allclose(float(pm["temperature_loss"]), 0.0, atol=1e-7)  # −log 1 · (…)


def test_wsrl_losses_called_directly_match_numpy():
    """WSRL's pieces, from its `losses` module: the conservative subset drawn with
    replacement (weight C/|S| per draw, so a twice-drawn critic counts twice), the online
    critic loss (mean over critics and batch) and the softplus temperature step."""
    from jaxrl.agents.base import adam
    from jaxrl.agents.wsrl import losses
    from jaxrl.networks import QEnsemble

    cfg = agent_config("wsrl", TINY["wsrl"])
    assert cfg.subset_replace
    for seed in range(5):
        key = lambda s=seed: jax.random.key(s)  # noqa: E731  identical fresh keys
        idx = np.asarray(jax.random.randint(key(), (cfg.subset_size,), 0, cfg.num_critics))
        ref = np.bincount(idx, minlength=cfg.num_critics) * cfg.num_critics / cfg.subset_size
        cfg_subset = dataclasses.replace(cfg, cql_subset=True)
        np.testing.assert_allclose(losses.conservative_weights(key(), cfg_subset), ref)

    critic = QEnsemble(4, (8,))
    batch = _batch(16)
    cp = critic.init(jax.random.key(0), batch.obs, batch.action)
    y = jnp.linspace(0.0, 1.0, 16)
    loss, _ = losses.online_critic_loss(cp, critic, batch, y)
    q = np.asarray(critic.apply(cp, batch.obs, batch.action))
    np.testing.assert_allclose(loss, np.mean((q - np.asarray(y)) ** 2), rtol=1e-5)

    lam = jnp.float32(0.3)  # α = softplus(0.3)
    logp_next = jnp.array([[-1.0, 0.0], [1.0, 3.0]])  # n = 2 samples per next state
    tx = adam(1e-4)
    new, _, t_loss = losses.temperature_step(
        tx, lam, tx.init(lam), logp_next, -2.0, "alpha", "softplus"
    )
    alpha, gap = np.log1p(np.exp(0.3)), -np.mean(np.asarray(logp_next)) + 2.0
    np.testing.assert_allclose(t_loss, alpha * gap, rtol=1e-6)
    np.testing.assert_allclose(float(new), 0.3 - 1e-4 * np.sign(gap), rtol=1e-6)


def test_initialization_is_wsrls():
    """Orthogonal(√2) everywhere, heads included; the last hidden layer orthogonal(1e-2), then
    LayerNorm (`wsrl/networks/mlp.py` `kernel_scale_final`): every kernel's singular values
    equal its gain."""
    config = agent_config(
        "wsrl", {"actor_hidden_dims": (16, 16), "critic_hidden_dims": (16, 16), "num_critics": 3}
    )
    params = make_agent("wsrl", config, EnvSpec(5, 2)).init(jax.random.key(0)).params

    def singular_values(kernel):
        return np.linalg.svd(np.asarray(kernel, np.float64), compute_uv=False)

    actor, critic = params["actor"]["params"], params["critic"]["params"]["VmapQNetwork_0"]
    gains = {
        "actor first hidden": (actor["MLP_0"]["Dense_0"]["kernel"], np.sqrt(2)),
        "actor last hidden": (actor["MLP_0"]["Dense_1"]["kernel"], 1e-2),
        "actor mean head": (actor["Dense_0"]["kernel"], np.sqrt(2)),
        "actor log-std head": (actor["Dense_1"]["kernel"], np.sqrt(2)),
    }
    for j in range(3):
        gains[f"critic {j} first hidden"] = (critic["MLP_0"]["Dense_0"]["kernel"][j], np.sqrt(2))
        gains[f"critic {j} last hidden"] = (critic["MLP_0"]["Dense_1"]["kernel"][j], 1e-2)
        gains[f"critic {j} head"] = (critic["Dense_0"]["kernel"][j], np.sqrt(2))
    for name, (kernel, gain) in gains.items():
        np.testing.assert_allclose(singular_values(kernel), gain, rtol=1e-4, err_msg=name)
    # Cal-QL keeps its own: 1e-2 variance-scaled heads, no special last hidden layer.
    calql = make_agent("calql", agent_config("calql", TINY["calql"]), EnvSpec(5, 2))
    head = calql.init(jax.random.key(0)).params["actor"]["params"]["Dense_0"]["kernel"]
    assert singular_values(head).max() < 0.5
