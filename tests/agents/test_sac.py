"""SAC/RLPD: its losses (RLPD and WSRL settings) against numpy on network outputs, the UTD update.

The reference re-draws the agent's random numbers with the same key splits (sampling is not
what is tested), then computes the targets and losses with plain numpy from the networks'
outputs, so the test pins the wiring: entropy backup or not, masks, discount, min or mean
over the ensemble for the actor, and the temperature loss form.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.agents.registry import agent_config, make_agent
from jaxrl.agents.sac import losses
from jaxrl.networks import GaussianPolicy, QEnsemble, tanh_gaussian_sample
from jaxrl.specs import EnvSpec
from tests.helpers import TINY
from tests.test_agents import _batch

SPEC = EnvSpec(obs_dim=5, action_dim=2)
SETTINGS = {
    # RLPD: entropy backup, mean-Q actor, H_target = -|A|/2.
    "rlpd": dict(backup_entropy=True, actor_reduction="mean", target_entropy_scale=0.5),
    # WSRL online: no entropy in the target, min over all critics for the actor.
    "wsrl": dict(backup_entropy=False, actor_reduction="min", target_entropy_scale=1.0),
}


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_sac_losses_match_numpy(name):
    s = SETTINGS[name]
    overrides = dict(actor_hidden_dims=(8,), critic_hidden_dims=(8,), num_critics=2, **s)
    # Two critics and a 2-critic subset without replacement: the subset is the whole ensemble.
    overrides.update(target_reduction="subset_min", subset_size=2, subset_replace=False)
    cfg = agent_config("sac", overrides)
    agent = make_agent("sac", cfg, SPEC)
    state = agent.init(jax.random.key(0))
    state = state.replace(params={**state.params, "temperature": jnp.log(jnp.float32(0.3))})
    batch = _batch(16)
    new, m = jax.jit(agent.update)(state, batch, jax.random.key(5))

    actor = GaussianPolicy(2, (8,))
    critic = QEnsemble(2, (8,))
    critic_key, actor_key = jax.random.split(jax.random.key(5))  # the update's key, re-made
    next_key, _ = jax.random.split(critic_key)
    a_next, logp_next = tanh_gaussian_sample(
        *actor.apply(state.params["actor"], batch.next_obs), next_key
    )
    q_next = np.asarray(critic.apply(state.target_params["critic"], batch.next_obs, a_next))
    alpha, gamma = 0.3, 0.99
    v_next = q_next.min(axis=0) - (alpha * np.asarray(logp_next) if s["backup_entropy"] else 0)
    not_done = 1.0 - np.asarray(batch.terminated)
    y = np.asarray(batch.reward) + gamma * not_done * v_next
    q = np.asarray(critic.apply(state.params["critic"], batch.obs, batch.action))
    np.testing.assert_allclose(float(m["critic_loss"]), np.mean((q - y[None]) ** 2), rtol=1e-5)

    a_pi, logp_pi = tanh_gaussian_sample(*actor.apply(state.params["actor"], batch.obs), actor_key)
    q_pi = np.asarray(critic.apply(new.params["critic"], batch.obs, a_pi))  # after critic step
    q_pi = q_pi.mean(axis=0) if s["actor_reduction"] == "mean" else q_pi.min(axis=0)
    logp_pi = np.asarray(logp_pi)
    np.testing.assert_allclose(
        float(m["actor_loss"]), np.mean(alpha * logp_pi - q_pi), rtol=1e-5, atol=1e-6
    )
    target_entropy = -s["target_entropy_scale"] * 2
    np.testing.assert_allclose(
        float(m["temperature_loss"]), alpha * (-logp_pi.mean() - target_entropy), rtol=1e-5
    )


def test_wsrl_temperature_is_softplus_on_next_state_entropy():
    """WSRL's `sac.py`: α = softplus(λ), and the temperature loss α·(Ĥ − H_target) takes Ĥ
    from fresh samples a' ~ π(·|s') of the actor before its step (the actor's own loss still
    samples at s). Adam's first step moves λ by −lr·sign(∂L/∂λ)."""
    from jaxrl.ops import temperature_leaf

    overrides = dict(
        actor_hidden_dims=(8,), critic_hidden_dims=(8,), num_critics=2, **SETTINGS["wsrl"]
    )
    overrides.update(temperature_param="softplus", entropy_from="next_obs", temperature_lr=1e-3)
    cfg = agent_config("sac", overrides)
    agent = make_agent("sac", cfg, SPEC)
    state = agent.init(jax.random.key(0))
    np.testing.assert_allclose(jax.nn.softplus(state.params["temperature"]), 1.0, rtol=1e-6)
    lam = temperature_leaf(0.3, "softplus")
    state = state.replace(params={**state.params, "temperature": lam})
    batch = _batch(16)
    new, m = jax.jit(agent.update)(state, batch, jax.random.key(5))

    actor = GaussianPolicy(2, (8,))
    critic = QEnsemble(2, (8,))
    _, actor_key = jax.random.split(jax.random.key(5))
    actor_key, entropy_key = jax.random.split(actor_key)
    a_pi, logp_pi = tanh_gaussian_sample(*actor.apply(state.params["actor"], batch.obs), actor_key)
    q_pi = np.asarray(critic.apply(new.params["critic"], batch.obs, a_pi)).min(axis=0)
    alpha = 0.3
    np.testing.assert_allclose(float(m["alpha"]), alpha, rtol=1e-5)
    np.testing.assert_allclose(
        float(m["actor_loss"]), np.mean(alpha * np.asarray(logp_pi) - q_pi), rtol=1e-5, atol=1e-6
    )
    _, logp_next = tanh_gaussian_sample(
        *actor.apply(state.params["actor"], batch.next_obs), entropy_key
    )
    gap = -float(np.mean(logp_next)) + 2.0  # Ĥ(s') − H_target, H_target = −|A|
    np.testing.assert_allclose(float(m["temperature_loss"]), alpha * gap, rtol=1e-5)
    # The entropy at s (the actor's samples) is not what the loss used.
    assert abs(float(m["entropy"]) + 2.0 - gap) > 1e-3
    np.testing.assert_allclose(
        float(new.params["temperature"]), float(lam) - 1e-3 * np.sign(gap), rtol=1e-4
    )


@pytest.mark.parametrize("algo", ["sac", "cql"])
@pytest.mark.parametrize(
    "field,value", [("temperature_param", "relu"), ("entropy_from", "next_state")]
)
def test_bad_temperature_option_names_the_allowed_values(algo, field, value):
    """SAC and CQL (whose configs WSRL's phases fill in) reject an unknown static temperature
    option at build time, naming the allowed values, before anything is traced."""
    cfg = agent_config(algo, {field: value})
    allowed = "'exp', 'softplus'" if field == "temperature_param" else "'obs', 'next_obs'"
    with pytest.raises(ValueError, match=f"{field}={value!r}; allowed: \\[{allowed}\\]"):
        make_agent(algo, cfg, SPEC)


def test_sac_critic_loss_is_the_mean_over_critics_and_batch():
    """RLPD's L_Q = mean_{i,B}(Q_i(s, a) − y)², called directly on a 3-critic ensemble."""
    critic = QEnsemble(3, (8,))
    batch = _batch(16)
    cp = critic.init(jax.random.key(0), batch.obs, batch.action)
    y = jnp.linspace(-2.0, 2.0, 16)
    loss, q = losses.critic_loss(cp, critic, batch, y)
    ref_q = np.asarray(critic.apply(cp, batch.obs, batch.action))
    np.testing.assert_allclose(q, ref_q, rtol=1e-6)
    np.testing.assert_allclose(loss, np.mean((ref_q - np.asarray(y)[None]) ** 2), rtol=1e-5)


def test_sac_utd_update_runs_critic_per_slice():
    cfg = agent_config(
        "sac",
        {
            **TINY["sac"],
            "num_critics": 4,
            "target_reduction": "subset_min",
            "actor_reduction": "mean",
        },
    )
    agent = make_agent("sac", cfg, SPEC)
    state = agent.init(jax.random.key(0))
    batches = jax.tree.map(lambda x: x.reshape((4, 8) + x.shape[1:]), _batch())
    new, metrics = jax.jit(agent.update_utd)(state, batches, jax.random.key(2))
    assert int(new.step) == 4
    # Each critic step applies one Adam step: the count inside the optimizer state is 4 for
    # the critic and 1 for the actor (updated once per UTD block).
    assert int(new.opt_states["critic"].inner_state[0].count) == 4
    assert int(new.opt_states["actor"].inner_state[0].count) == 1
    assert np.isfinite(float(metrics["critic_loss"]))
