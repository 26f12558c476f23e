"""Stand-in networks and batches shared by the TD3-family and BC tests in tests/agents/.

The stand-ins have one scalar parameter each, so losses can be worked by hand: the actor is
π(s) = p·s and critic j is Q_j(s, a) = w_j·Σa + Σs.
"""

import jax.numpy as jnp
import numpy as np

from jaxrl.types import Transition


class LinearActor:
    """π(s) = p · s (a stand-in with the `apply` signature of a Linen module)."""

    @staticmethod
    def apply(p, obs):
        return p * obs


class LinearCritics:
    """Q_j(s, a) = w_j · Σa + Σs for w = params, stacked on axis 0 like `QEnsemble`."""

    @staticmethod
    def apply(w, obs, action):
        return w[:, None] * jnp.sum(action, -1)[None] + jnp.sum(obs, -1)[None]


def hand_batch():
    f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return Transition(
        obs=f([[1.0], [-4.0]]),
        action=f([[0.5], [-0.5]]),
        reward=f([1.0, 0.0]),
        terminated=f([0.0, 0.0]),
        truncated=f([0.0, 0.0]),
        next_obs=f([[0.5], [1.0]]),
        mc_return=f([0.0, 0.0]),
        next_action=f([[0.2], [0.0]]),
    )


def random_batch(n=16, seed=0):
    rng = np.random.default_rng(seed)
    f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return Transition(
        obs=f(rng.normal(size=(n, 3))),
        action=f(rng.uniform(-0.9, 0.9, (n, 2))),
        reward=f(rng.normal(size=n)),
        terminated=f(rng.random(n) < 0.1),
        truncated=f(np.zeros(n)),
        next_obs=f(rng.normal(size=(n, 3))),
        mc_return=f(np.zeros(n)),
        next_action=f(rng.uniform(-0.9, 0.9, (n, 2))),
    )
