"""The IQL family's shared math (`jaxrl.agents.families.iql`) by hand and against numpy, and
the two orders of steps against steps built in the test."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.agents.base import apply_grads
from jaxrl.agents.families import iql as family
from jaxrl.ops import expectile_loss
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition
from tests.helpers import make_hparams


class LinearValue:
    """V(s) = p · Σs (a stand-in with the `apply` signature of a Linen module)."""

    @staticmethod
    def apply(p, obs):
        return p * jnp.sum(obs, -1)


class LinearActor:
    """π(s) = p · s."""

    @staticmethod
    def apply(p, obs):
        return p * obs


def _hand_batch():
    f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return Transition(
        obs=f([[1.0], [-2.0]]),
        action=f([[0.5], [-0.5]]),
        reward=f([1.0, 0.0]),
        terminated=f([0.0, 1.0]),
        truncated=f([0.0, 0.0]),
        next_obs=f([[0.5], [1.0]]),
        mc_return=f([0.0, 0.0]),
    )


def test_value_loss_with_a_pluggable_per_sample_loss():
    b = _hand_batch()
    q_target = jnp.array([2.0, 1.0])
    # V = 0.5·s = [0.5, −1]; x = Q̄ − V = [1.5, 2]; f(x) = x³: mean = (3.375 + 8) / 2.
    loss, v = family.value_loss(jnp.float32(0.5), LinearValue, b.obs, q_target, lambda x: x**3)
    np.testing.assert_allclose(v, [0.5, -1.0])
    np.testing.assert_allclose(loss, (3.375 + 8.0) / 2, rtol=1e-6)


def test_value_target_and_its_clip():
    b = _hand_batch()
    y = family.value_target(b, jnp.array([3.0, 5.0]), 0.9)
    np.testing.assert_allclose(y, [1.0 + 2.7, 0.0], rtol=1e-6)  # the terminal drops V(s')
    np.testing.assert_allclose(family.value_target(b, jnp.array([3.0, 5.0]), 0.9, (0, 2)), [2, 0])


def test_huber_td_loss_by_hand():
    q = jnp.array([[0.0, 30.0], [1.0, -25.0]])
    y = jnp.array([1.0, 0.0])
    # u = [[−1, 30], [0, −25]]: ½u² inside δ = 20, δ(|u| − δ) + ½δ² outside.
    h = np.array([[0.5, 20 * 10 + 200], [0.0, 20 * 5 + 200]])
    np.testing.assert_allclose(family.huber_td_loss(q, y), h.mean(1).sum(), rtol=1e-6)
    np.testing.assert_allclose(family.huber_td_loss(q, y, 1.0), 0.5 / 2 + 29.5 / 2 + 0 + 24.5 / 2)


def test_awr_actor_loss_deterministic_and_gaussian():
    b = _hand_batch()
    w = jnp.array([2.0, 0.5])
    # π = 0.4·s = [0.4, −0.8] vs a = [0.5, −0.5]: ‖·‖² = [0.01, 0.09].
    loss = family.awr_actor_loss(jnp.float32(0.4), LinearActor, b, w, deterministic=True)
    np.testing.assert_allclose(loss, (2 * 0.01 + 0.5 * 0.09) / 2, rtol=1e-5)

    class Gauss:
        @staticmethod
        def apply(p, obs):
            return p * obs, jnp.full_like(obs, -0.5)

    loss = family.awr_actor_loss(jnp.float32(0.4), Gauss, b, w)
    mean, a, ls = np.array([0.4, -0.8]), np.array([0.5, -0.5]), -0.5
    nll = 0.5 * ((a - mean) / np.exp(ls)) ** 2 + ls + 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(loss, np.mean(np.array([2.0, 0.5]) * nll), rtol=1e-5)


@pytest.mark.parametrize("order", family.ORDERS)
def test_update_orders_against_steps_built_here(order):
    """ "simultaneous": every loss from the parameters before the step; "value_first": the
    actor's advantage and the critic's V(s') use the V after its step."""
    spec = EnvSpec(3, 2)
    nets = family.make_networks(spec, (8,))
    hp = make_hparams(
        expectile=0.7, beta=3.0, discount=0.9, tau=0.1, actor_lr=3e-4, critic_lr=3e-4, value_lr=3e-4
    )
    state = family.init_state(nets, spec, jax.random.key(0), hp)
    rng = np.random.default_rng(0)
    f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    b = Transition(
        obs=f(rng.normal(size=(6, 3))),
        action=f(rng.uniform(-0.9, 0.9, (6, 2))),
        reward=f(rng.normal(size=6)),
        terminated=f([0, 1, 0, 0, 1, 0]),
        truncated=f(np.zeros(6)),
        next_obs=f(rng.normal(size=(6, 3))),
        mc_return=f(np.zeros(6)),
    )
    update = family.make_update(
        nets,
        value_term=lambda x, hp: expectile_loss(x, hp.expectile),
        critic_term=lambda q, y, hp: jnp.mean((q - y[None]) ** 2),
        order=order,
    )
    new, m = update(state, b, jax.random.key(1))

    p = state.params
    q_bar = jnp.min(nets.critic.apply(state.target_params["critic"], b.obs, b.action), 0)

    def v_loss(vp):
        u = q_bar - nets.value.apply(vp, b.obs)
        return jnp.mean(jnp.where(u < 0, 0.3, 0.7) * u**2)

    vp, _ = apply_grads(
        nets.txs["value"], p["value"], state.opt_states["value"], jax.grad(v_loss)(p["value"])
    )
    v_used = p["value"] if order == "simultaneous" else vp
    adv = q_bar - nets.value.apply(v_used, b.obs)
    w = jnp.minimum(jnp.exp(3.0 * adv), 100.0)
    y = b.reward + 0.9 * (1 - b.terminated) * nets.value.apply(v_used, b.next_obs)

    def q_loss(cp):
        return jnp.mean((nets.critic.apply(cp, b.obs, b.action) - y[None]) ** 2)

    def a_loss(ap):
        mean, log_std = nets.actor.apply(ap, b.obs)
        z = (b.action - mean) / jnp.exp(log_std)
        return jnp.mean(w * jnp.sum(0.5 * z**2 + log_std + 0.5 * jnp.log(2 * jnp.pi), -1))

    cp, _ = apply_grads(
        nets.txs["critic"], p["critic"], state.opt_states["critic"], jax.grad(q_loss)(p["critic"])
    )
    ap, _ = apply_grads(
        nets.txs["actor"], p["actor"], state.opt_states["actor"], jax.grad(a_loss)(p["actor"])
    )
    close = lambda a, b: jax.tree.map(  # noqa: E731
        lambda x, z: np.testing.assert_allclose(x, z, rtol=1e-4, atol=1e-6), a, b
    )
    close(new.params, {"value": vp, "critic": cp, "actor": ap})
    close(
        new.target_params["critic"],
        jax.tree.map(lambda t, o: 0.9 * t + 0.1 * o, state.target_params["critic"], cp),
    )
    np.testing.assert_allclose(m["adv_mean"], jnp.mean(adv), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m["critic_loss"], q_loss(p["critic"]), rtol=1e-5)


def test_unknown_order_is_refused():
    with pytest.raises(ValueError, match="order='sac'; allowed"):
        family.make_update(family.make_networks(EnvSpec(3, 2), (8,)), None, None, order="sac")
