"""RO2O (ALGORITHMS.md §6): its robustness terms by hand, its module-level losses and the
agent's update against numpy."""

import types

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.agents.families import sac as family
from jaxrl.agents.registry import agent_config, make_agent
from jaxrl.agents.ro2o import losses
from jaxrl.agents.ro2o.losses import ood_weight
from jaxrl.networks import GaussianPolicy, QEnsemble, tanh_gaussian_sample
from jaxrl.ops import (
    asymmetric_squared,
    gaussian_symmetric_kl,
    linf_perturbations,
    uncertainty_pseudo_target,
)
from jaxrl.specs import EnvSpec
from tests.test_agents import _batch

SPEC = EnvSpec(obs_dim=5, action_dim=2)


def test_robustness_terms_hand_values():
    np.testing.assert_allclose(asymmetric_squared(jnp.array([2.0, -2.0, 0.0])), [3.2, 0.8, 0.0])
    # 1-D Gaussians N(0, 1) and N(1, 2²): KL(p‖q) + KL(q‖p) = ((1−4)² + 1·(1+4)) / (2·1·4).
    kl = gaussian_symmetric_kl(
        jnp.array([0.0]), jnp.array([0.0]), jnp.array([1.0]), jnp.log(jnp.array([2.0]))
    )
    np.testing.assert_allclose(kl, 14.0 / 8.0, rtol=1e-6)
    assert float(gaussian_symmetric_kl(jnp.ones(3), jnp.zeros(3), jnp.ones(3), jnp.zeros(3))) == 0
    # Members 1 and 3: unbiased std √((1 + 1)/1) = √2 (torch's default, the reference's);
    # pseudo-targets 1 − 0.5√2 and 3 − 0.5√2.
    q = jnp.array([[1.0], [3.0]])
    r = 0.5 * np.sqrt(2.0)
    np.testing.assert_allclose(uncertainty_pseudo_target(q, 0.5), [[1 - r], [3 - r]], rtol=1e-6)
    d = linf_perturbations(jax.random.key(0), 50, 3, 0.01)
    assert d.shape == (50, 3) and float(jnp.max(jnp.abs(d))) <= 0.01
    hp = types.SimpleNamespace(ood_u_init=1.0, ood_u_decay=0.1, ood_u_min=0.3)
    np.testing.assert_allclose([ood_weight(s, hp) for s in (0, 2, 10)], [1.0, 0.8, 0.3], rtol=1e-6)


def _one_update(seed, **eps):
    """One RO2O update (3 critics, 4 perturbations, 8-unit networks) with the key `seed`; also
    the agent's own key splits and stand-in modules to recompute its terms."""
    fields = {"actor_hidden_dims": (8,), "critic_hidden_dims": (8,), "num_critics": 3}
    cfg = agent_config("ro2o", {**fields, "num_perturbations": 4, **eps})
    agent = make_agent("ro2o", cfg, SPEC)
    state = agent.init(jax.random.key(0))
    batch = _batch(16)
    new, m = jax.jit(agent.update)(state, batch, jax.random.key(seed))
    keys = jax.random.split(jax.random.key(seed), 7)
    nets = GaussianPolicy(2, (8,), log_std_min=-5.0), QEnsemble(3, (8,))
    return cfg, agent, state, batch, new, m, keys, nets


def test_ro2o_critic_terms_match_numpy_and_switch_freezes_u():
    cfg, agent, state, batch, new, m, keys, (actor, critic) = _one_update(
        3, perturb_eps_q=0.5, perturb_eps_ood=0.5
    )
    ap, cp = new.params["actor"], state.params["critic"]  # updated actor, critics before
    alpha = float(np.exp(new.params["temperature"]))
    a_next, logp_next = tanh_gaussian_sample(*actor.apply(ap, batch.next_obs), keys[3])
    q_next = np.asarray(critic.apply(state.target_params["critic"], batch.next_obs, a_next))
    v = q_next.min(0) - alpha * np.asarray(logp_next)
    y = np.asarray(batch.reward) + 0.99 * (1 - np.asarray(batch.terminated)) * v
    q = np.asarray(critic.apply(cp, batch.obs, batch.action))
    np.testing.assert_allclose(float(m["td_loss"]), ((q - y) ** 2).mean(1).sum(), rtol=1e-5)

    deltas = np.asarray(linf_perturbations(keys[4], 4, 5, 0.5))
    obs = np.asarray(batch.obs)
    q_pert = np.stack([np.asarray(critic.apply(cp, obs + d, batch.action)) for d in deltas], 1)
    diff = q_pert - q[:, None]
    w = np.where(diff > 0, 0.8, 0.2) * diff**2
    np.testing.assert_allclose(float(m["q_smooth_loss"]), w.mean(0).max(0).mean(), rtol=1e-5)

    ood_obs = obs[None] + np.asarray(linf_perturbations(keys[5], 4, 5, 0.5))[:, None]
    a_ood = tanh_gaussian_sample(*actor.apply(ap, ood_obs), keys[6])[0]
    q_ood = np.asarray(critic.apply(cp, ood_obs, a_ood))
    # MSE to Q − u·std with u = 1 at step 0: (u·std)² per member, std unbiased (torch's).
    std = q_ood.std(0, ddof=1)
    np.testing.assert_allclose(
        float(m["ood_loss"]), np.mean(np.broadcast_to(std**2, q_ood.shape)), rtol=1e-4
    )

    # Online, u is held at online_ood_u (0.1) whatever the step.
    online = agent.to_online(new)
    for step in (0, 10**7):
        assert float(ood_weight(step, online.hparams)) == np.float32(cfg.online_ood_u)


def _sym_kl_np(m1, ls1, m2, ls2):
    """KL(p‖q) + KL(q‖p) of diagonal Gaussians, summed over the last axis."""
    v1, v2 = np.exp(2 * ls1), np.exp(2 * ls2)
    kl_pq = ls2 - ls1 + (v1 + (m1 - m2) ** 2) / (2 * v2) - 0.5
    kl_qp = ls1 - ls2 + (v2 + (m1 - m2) ** 2) / (2 * v1) - 0.5
    return (kl_pq + kl_qp).sum(-1)


def test_ro2o_actor_and_temperature_terms_match_numpy():
    """Temperature first (CORL's −log α form), then the SAC-N actor with the new α, plus the
    worst-of-n symmetric KL between π(s) and π(s + δ)."""
    cfg, _, state, batch, new, m, keys, (actor, critic) = _one_update(5, perturb_eps_policy=0.5)
    ap, cp = state.params["actor"], state.params["critic"]
    obs = np.asarray(batch.obs)
    mean, log_std = (np.asarray(x) for x in actor.apply(ap, obs))
    _, logp_t = tanh_gaussian_sample(mean, log_std, keys[0])
    # log α starts at 0; the loss −log α·mean(log π − |A|) is 0 there and its gradient is
    # −mean(log π − 2): Adam's first step moves log α by −lr·sign(gradient).
    grad = -np.mean(np.asarray(logp_t) - 2.0)
    np.testing.assert_allclose(float(m["temperature_loss"]), 0.0, atol=1e-7)
    np.testing.assert_allclose(
        float(new.params["temperature"]), -cfg.temperature_lr * np.sign(grad), rtol=1e-3
    )
    alpha = float(np.exp(new.params["temperature"]))
    np.testing.assert_allclose(float(m["alpha"]), alpha, rtol=1e-6)

    a, logp = tanh_gaussian_sample(mean, log_std, keys[2])
    q = np.asarray(critic.apply(cp, obs, a)).min(0)
    sac = np.mean(alpha * np.asarray(logp) - q)
    np.testing.assert_allclose(float(m["sac_actor_loss"]), sac, rtol=1e-5)

    deltas = np.asarray(linf_perturbations(keys[1], 4, 5, 0.5))
    kls = []
    for d in deltas:
        mp, lsp = (np.asarray(x) for x in actor.apply(ap, obs + d))
        kls.append(_sym_kl_np(mean, log_std, mp, lsp))
    smooth = np.stack(kls).max(0).mean()
    assert smooth > 1e-4  # ε = 0.5 moves the policy measurably
    np.testing.assert_allclose(float(m["policy_smooth_loss"]), smooth, rtol=1e-4)
    np.testing.assert_allclose(
        float(m["actor_loss"]), sac + cfg.policy_smooth_coef * smooth, rtol=1e-5
    )


def test_ro2o_module_losses_match_numpy():
    """`losses.q_smoothness`, `ood_penalty`, `policy_smoothness` and `critic_loss` called
    directly, and the actor loss as the agent composes it (the SAC family's `actor_loss` with
    the weighted smoothness as its `extra` term), against numpy on the networks' outputs."""
    actor, critic = GaussianPolicy(2, (8,), log_std_min=-5.0), QEnsemble(3, (8,))
    batch = _batch(16)
    ap = actor.init(jax.random.key(0), batch.obs)
    cp = critic.init(jax.random.key(1), batch.obs, batch.action)
    obs, act = np.asarray(batch.obs), np.asarray(batch.action)
    q_deltas = np.asarray(linf_perturbations(jax.random.key(2), 4, 5, 0.5))
    ood_deltas = np.asarray(linf_perturbations(jax.random.key(3), 4, 5, 0.5))
    ood_obs = obs[None] + ood_deltas[:, None]
    ood_a = np.asarray(jax.random.uniform(jax.random.key(4), (4, 16, 2), minval=-1, maxval=1))
    y = np.linspace(-1.0, 1.0, 16).astype(np.float32)
    u = 0.5

    q = np.asarray(critic.apply(cp, batch.obs, batch.action))  # [3, B]
    q_pert = np.stack([np.asarray(critic.apply(cp, obs + d, act)) for d in q_deltas], 1)
    diff = q_pert - q[:, None]
    smooth_ref = (np.where(diff > 0, 0.8, 0.2) * diff**2).mean(0).max(0).mean()
    np.testing.assert_allclose(losses.q_smoothness(q, q_pert, 0.8), smooth_ref, rtol=1e-5)
    q_ood = np.asarray(critic.apply(cp, jnp.asarray(ood_obs), jnp.asarray(ood_a)))
    ood_ref = np.mean((u * q_ood.std(0, ddof=1)) ** 2 * np.ones_like(q_ood))
    np.testing.assert_allclose(losses.ood_penalty(jnp.asarray(q_ood), u), ood_ref, rtol=1e-4)
    td_ref = ((q - y) ** 2).mean(1).sum()
    total, (_, td, qs, ood) = losses.critic_loss(
        cp, critic, batch, jnp.asarray(y), jnp.asarray(q_deltas), jnp.asarray(ood_obs),
        jnp.asarray(ood_a), u, 1e-2, 0.1, 0.8,
    )  # fmt: skip
    np.testing.assert_allclose([td, qs, ood], [td_ref, smooth_ref, ood_ref], rtol=1e-4)
    np.testing.assert_allclose(total, td_ref + 1e-2 * smooth_ref + 0.1 * ood_ref, rtol=1e-5)

    pol_deltas = np.asarray(linf_perturbations(jax.random.key(5), 4, 5, 0.5))
    mean, log_std = (np.asarray(x) for x in actor.apply(ap, batch.obs))
    kls = [
        _sym_kl_np(mean, log_std, *(np.asarray(x) for x in actor.apply(ap, obs + d)))
        for d in pol_deltas
    ]
    pol_ref = np.stack(kls).max(0).mean()
    got = losses.policy_smoothness(ap, actor, batch.obs, (mean, log_std), jnp.asarray(pol_deltas))
    np.testing.assert_allclose(got, pol_ref, rtol=1e-4)
    alpha = 0.2
    key = lambda: jax.random.key(6)  # noqa: E731

    def smoothness(p, aux):
        smooth = losses.policy_smoothness(p, actor, batch.obs, aux["dist"], jnp.asarray(pol_deltas))
        return 2.0 * smooth, smooth

    loss, aux = family.actor_loss(
        ap, actor, cp, critic, batch.obs, key(), jnp.float32(alpha), "min", smoothness
    )
    sac, smooth = aux["sac_loss"], aux["extra"]
    a, logp_ref = tanh_gaussian_sample(mean, log_std, key())  # the same draw
    q_pi = np.asarray(critic.apply(cp, batch.obs, a)).min(0)
    sac_ref = np.mean(alpha * np.asarray(logp_ref) - q_pi)
    np.testing.assert_allclose([sac, smooth], [sac_ref, pol_ref], rtol=1e-4)
    np.testing.assert_allclose(loss, sac_ref + 2.0 * pol_ref, rtol=1e-4)
