"""`cond_with_keys`: the values of `lax.cond`, and no key-reuse error under vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.ops import cond_with_keys


def draw(x, key):
    return x + jax.random.normal(key, x.shape)


def keep(x, key):
    return x


def test_values_equal_plain_cond():
    x, key = jnp.zeros(3), jax.random.key(1)
    for pred, branch in ((True, draw), (False, keep)):
        got = cond_with_keys(jnp.bool_(pred), draw, keep, x, key)
        np.testing.assert_array_equal(got, branch(x, key))


def test_under_vmap_the_plain_cond_trips_the_checker_and_this_one_does_not():
    preds = jnp.array([True, False])
    xs = jnp.zeros((2, 3))
    with jax.debug_key_reuse(True):
        keys = jax.random.split(jax.random.key(0), 2)
        with pytest.raises(jax.errors.KeyReuseError):
            jax.vmap(lambda p, x, k: jax.lax.cond(p, draw, keep, x, k))(preds, xs, keys)
        keys = jax.random.split(jax.random.key(0), 2)
        out = jax.vmap(lambda p, x, k: cond_with_keys(p, draw, keep, x, k))(preds, xs, keys)
    np.testing.assert_array_equal(out[1], 0.0)
    np.testing.assert_array_equal(out[0], draw(xs[0], jax.random.split(jax.random.key(0), 2)[0]))


def test_the_test_session_checks_key_reuse():
    """tests/conftest.py forces the checker on: using one key twice raises."""
    key = jax.random.key(3)
    jax.random.normal(key)
    with pytest.raises(jax.errors.KeyReuseError):
        jax.random.normal(key)
