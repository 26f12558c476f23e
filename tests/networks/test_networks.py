"""Shapes, parameter layouts and numpy references for `jaxrl.networks`."""

from __future__ import annotations

import math

import flax.linen
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.networks import (
    MLP,
    DeterministicPolicy,
    GaussianPolicy,
    QEnsemble,
    ValueNetwork,
    default_init,
    gaussian_log_prob,
    output_init,
    tanh_gaussian_log_prob,
    tanh_gaussian_sample,
)
from jaxrl.networks.values import QNetwork

OBS_DIM, ACT_DIM, BATCH = 5, 3, 7


@pytest.fixture(scope="module")
def obs():
    return jax.random.normal(jax.random.key(0), (BATCH, OBS_DIM))


@pytest.fixture(scope="module")
def act():
    return jax.random.uniform(jax.random.key(1), (BATCH, ACT_DIM), minval=-1.0, maxval=1.0)


# ----------------------------------------------------------------------------- numpy references


def _dense(p, x):
    return x @ np.asarray(p["kernel"], np.float64) + np.asarray(p["bias"], np.float64)


def _layer_norm(p, x, eps=1e-6):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * np.asarray(p["scale"]) + np.asarray(p["bias"])


def _mlp_np(p, x, n_layers, layer_norm="none", activate_final=True):
    x = np.asarray(x, np.float64)
    ln = 0
    for i in range(n_layers):
        x = _dense(p[f"Dense_{i}"], x)
        if i + 1 < n_layers or activate_final:
            if layer_norm == "before_act":
                x = _layer_norm(p[f"LayerNorm_{ln}"], x)
                ln += 1
            x = np.maximum(x, 0.0)
            if layer_norm == "after_act":
                x = _layer_norm(p[f"LayerNorm_{ln}"], x)
                ln += 1
    return x


def _perturb(params, key, scale=0.5):
    """Random non-trivial values (LayerNorm scale/bias are 1/0 at init)."""
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    leaves = [x + scale * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys, strict=True)]
    return jax.tree.unflatten(tree, leaves)


# ----------------------------------------------------------------------------- mlp.py


@pytest.mark.parametrize("activate_final", [True, False])
@pytest.mark.parametrize("layer_norm", ["none", "before_act", "after_act"])
def test_mlp_layer_norm_placement_matches_numpy(obs, layer_norm, activate_final):
    net = MLP((8, 6, 4), layer_norm=layer_norm, activate_final=activate_final)
    params = net.init(jax.random.key(2), obs)["params"]
    n_norms = {
        "none": 0,
        "before_act": 3 if activate_final else 2,
        "after_act": 3 if activate_final else 2,
    }[layer_norm]
    expected_keys = {f"Dense_{i}" for i in range(3)} | {f"LayerNorm_{i}" for i in range(n_norms)}
    assert set(params) == expected_keys
    for i, width in enumerate((8, 6, 4)[:n_norms]):
        assert params[f"LayerNorm_{i}"]["scale"].shape == (width,)
    params = _perturb(params, jax.random.key(3))
    out = net.apply({"params": params}, obs)
    assert out.shape == (BATCH, 4)
    ref = _mlp_np(params, obs, 3, layer_norm, activate_final)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


def test_mlp_layer_norm_modes_differ(obs):
    # Each placement leaves its own signature on the output.
    outs = {}
    for mode in ("before_act", "after_act"):
        net = MLP((16, 16), layer_norm=mode)
        params = net.init(jax.random.key(4), obs)
        outs[mode] = net.apply(params, obs)
    # Dense → LN → ReLU ends in a ReLU: non-negative with zeros.
    assert jnp.all(outs["before_act"] >= 0) and jnp.any(outs["before_act"] == 0)
    # Dense → ReLU → LN ends in a LayerNorm (scale 1, bias 0 at init): zero mean, unit variance.
    np.testing.assert_allclose(outs["after_act"].mean(-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(outs["after_act"].var(-1), 1.0, atol=1e-3)
    assert jnp.any(outs["after_act"] < 0)


def test_mlp_invalid_modes_raise(obs):
    with pytest.raises(ValueError, match="layer_norm"):
        MLP((4,), layer_norm="pre").init(jax.random.key(0), obs)
    with pytest.raises(ValueError, match="init"):
        MLP((4,), init_mode="he").init(jax.random.key(0), obs)
    with pytest.raises(ValueError, match="init"):
        default_init("zeros")


def test_initializers_hand_bounds():
    keys = iter(jax.random.split(jax.random.key(0), 5))
    # xavier_uniform on (fan_in, fan_out) = (30, 10): U(±sqrt(6 / 40)).
    w = default_init("xavier")(next(keys), (30, 10))
    bound = math.sqrt(6.0 / 40.0)
    assert float(jnp.max(jnp.abs(w))) <= bound
    assert float(jnp.max(jnp.abs(w))) > 0.8 * bound
    # Orthogonal with gain √2 on a square matrix: WᵀW = 2·I.
    w = default_init("orthogonal")(next(keys), (8, 8))
    np.testing.assert_allclose(w.T @ w, 2.0 * np.eye(8), atol=1e-5)
    w = output_init("orthogonal")(next(keys), (8, 8))  # gain 1 without a scale
    np.testing.assert_allclose(w.T @ w, np.eye(8), atol=1e-5)
    w = output_init("orthogonal", 0.01)(next(keys), (8, 8))
    np.testing.assert_allclose(w.T @ w, 1e-4 * np.eye(8), atol=1e-8)
    # variance_scaling(s, fan_avg, uniform): U(±sqrt(3 s / fan_avg)); s = 1e-2, fan_avg = 20.
    w = output_init("xavier", 1e-2)(next(keys), (30, 10))
    bound = math.sqrt(3 * 1e-2 / 20.0)
    assert float(jnp.max(jnp.abs(w))) <= bound
    assert float(jnp.max(jnp.abs(w))) > 0.8 * bound


def test_orthogonal_matches_flax_without_lapack():
    """Our orthogonal init gives flax's matrix for a key (same Gaussian draw, QR sign fix), and
    its program has no custom call: concurrent batched LAPACK `orgqr` calls deadlocked XLA:CPU
    (CQL's vmapped init with the Brax reset never returned on 2 cores)."""
    from jaxrl.networks.mlp import orthogonal

    for i, shape in enumerate([(8, 8), (17, 64), (64, 1), (3, 4, 5)]):
        key = jax.random.key(i)
        ours = orthogonal(1.3)(key, shape)
        ref = flax.linen.initializers.orthogonal(1.3)(jax.random.key(i), shape)
        assert ours.shape == shape
        np.testing.assert_allclose(ours, ref, atol=2e-6)
    hlo = (
        jax.jit(jax.vmap(lambda k: orthogonal(2.0)(k, (64, 64))))
        .lower(jax.random.split(jax.random.key(0), 3))
        .as_text()
    )
    assert "custom_call" not in hlo
    with pytest.raises(ValueError, match="2-d shape"):
        orthogonal()(jax.random.key(0), (5,))


def test_init_mode_reaches_every_layer():
    # Orthogonal hidden kernels have WᵀW = 2·I (gain √2); the output layer gain 1.
    x = jnp.ones((1, 8))
    p = MLP((8, 8), init_mode="orthogonal").init(jax.random.key(0), x)["params"]
    for name in ("Dense_0", "Dense_1"):
        w = p[name]["kernel"]
        np.testing.assert_allclose(w.T @ w, 2.0 * np.eye(8), atol=1e-5)
    pi = GaussianPolicy(8, hidden_dims=(8,), init_mode="orthogonal")
    p = pi.init(jax.random.key(0), x)["params"]
    w = p["MLP_0"]["Dense_0"]["kernel"]
    np.testing.assert_allclose(w.T @ w, 2.0 * np.eye(8), atol=1e-5)
    for head in ("Dense_0", "Dense_1"):
        w = p[head]["kernel"]
        np.testing.assert_allclose(w.T @ w, np.eye(8), atol=1e-5)
    q = QEnsemble(num=2, hidden_dims=(8,), init_mode="orthogonal")
    p = q.init(jax.random.key(0), jnp.ones((1, 5)), jnp.ones((1, 3)))["params"]
    (inner,) = p.values()
    for i in range(2):
        w = inner["MLP_0"]["Dense_0"]["kernel"][i]
        np.testing.assert_allclose(w.T @ w, 2.0 * np.eye(8), atol=1e-5)


# ----------------------------------------------------------------------------- values.py


def test_value_network_shape_and_numpy(obs):
    net = ValueNetwork(hidden_dims=(8, 8))
    params = net.init(jax.random.key(0), obs)
    v = net.apply(params, obs)
    assert v.shape == (BATCH,)
    p = params["params"]
    ref = _dense(p["Dense_0"], _mlp_np(p["MLP_0"], obs, 2))[..., 0]
    np.testing.assert_allclose(v, ref, rtol=1e-5, atol=1e-5)
    # A single observation gives a scalar.
    assert net.apply(params, obs[0]).shape == ()


def test_value_network_output_scale_shrinks_last_layer(obs):
    p = ValueNetwork(hidden_dims=(16,), output_scale=1e-2).init(jax.random.key(0), obs)
    kernel = p["params"]["Dense_0"]["kernel"]
    assert kernel.shape == (16, 1)
    # U(±sqrt(3·1e-2 / fan_avg)), fan_avg = (16 + 1) / 2.
    assert float(jnp.max(jnp.abs(kernel))) <= math.sqrt(3e-2 / 8.5)


def test_q_ensemble_three_members(obs, act):
    net = QEnsemble(num=3, hidden_dims=(8, 8))
    params = net.init(jax.random.key(0), obs, act)
    leaves = jax.tree.leaves(params)
    assert leaves and all(x.shape[0] == 3 for x in leaves)
    q = net.apply(params, obs, act)
    assert q.shape == (3, BATCH)
    # Independent members: pairwise different outputs.
    for i in range(3):
        for j in range(i + 1, 3):
            assert not np.allclose(q[i], q[j])
    # Member i is a plain QNetwork with the i-th slice of the parameters.
    (inner,) = params["params"].values()
    single = QNetwork(hidden_dims=(8, 8))
    for i in range(3):
        p_i = jax.tree.map(lambda x, i=i: x[i], inner)
        np.testing.assert_allclose(
            single.apply({"params": p_i}, obs, act), q[i], rtol=1e-5, atol=1e-6
        )
        # and a numpy forward of concat(s, a) → MLP → Dense(1)
        x = np.concatenate([np.asarray(obs), np.asarray(act)], -1)
        ref = _dense(p_i["Dense_0"], _mlp_np(p_i["MLP_0"], x, 2))[..., 0]
        np.testing.assert_allclose(q[i], ref, rtol=1e-4, atol=1e-5)


def test_q_ensemble_layer_norm_and_single_example(obs, act):
    net = QEnsemble(num=2, hidden_dims=(8,), layer_norm="before_act")
    params = net.init(jax.random.key(0), obs[0], act[0])
    (inner,) = params["params"].values()
    assert inner["MLP_0"]["LayerNorm_0"]["scale"].shape == (2, 8)
    assert net.apply(params, obs[0], act[0]).shape == (2,)


# ----------------------------------------------------------------------------- policies.py


def test_gaussian_policy_state_mode(obs):
    pi = GaussianPolicy(ACT_DIM, hidden_dims=(8, 8))
    params = pi.init(jax.random.key(0), obs)
    p = params["params"]
    assert set(p) == {"MLP_0", "Dense_0", "Dense_1"}  # trunk, mean head, log-std head
    mean, log_std = pi.apply(params, obs)
    assert mean.shape == log_std.shape == (BATCH, ACT_DIM)
    h = _mlp_np(p["MLP_0"], obs, 2)
    np.testing.assert_allclose(mean, _dense(p["Dense_0"], h), rtol=1e-4, atol=1e-5)
    ref = np.clip(_dense(p["Dense_1"], h), -20.0, 2.0)  # default log-std bounds
    np.testing.assert_allclose(log_std, ref, rtol=1e-4, atol=1e-5)
    # State-dependent: different observations give different log-stds.
    assert not np.allclose(log_std[0], log_std[1])


def test_gaussian_policy_param_mode(obs):
    pi = GaussianPolicy(ACT_DIM, hidden_dims=(8,), std_mode="param")
    params = pi.init(jax.random.key(0), obs)
    p = params["params"]
    assert "Dense_1" not in p
    np.testing.assert_array_equal(p["log_std"], np.zeros(ACT_DIM))  # initialised at 0
    _, log_std = pi.apply(params, obs)
    np.testing.assert_array_equal(log_std, np.zeros((BATCH, ACT_DIM)))
    # State-independent, and clipped into [log_std_min, log_std_max] = [−20, 2].
    p = {**p, "log_std": jnp.array([-30.0, 5.0, 0.3])}
    _, log_std = pi.apply({"params": p}, obs)
    np.testing.assert_allclose(
        log_std, np.broadcast_to([-20.0, 2.0, 0.3], (BATCH, ACT_DIM)), rtol=1e-6
    )


def test_gaussian_policy_calql_mode(obs):
    pi = GaussianPolicy(ACT_DIM, hidden_dims=(8,), std_mode="calql")
    params = pi.init(jax.random.key(0), obs)
    p = params["params"]
    assert float(p["log_std_multiplier"]) == 1.0
    assert float(p["log_std_offset"]) == -1.0
    assert p["log_std_multiplier"].shape == p["log_std_offset"].shape == ()
    h = _mlp_np(p["MLP_0"], obs, 1)
    raw = _dense(p["Dense_1"], h)
    _, log_std = pi.apply(params, obs)
    np.testing.assert_allclose(log_std, raw - 1.0, rtol=1e-4, atol=1e-5)  # 1·raw − 1
    # log σ = mult · raw + offset with other values: 2·raw + 0.5
    p2 = {**p, "log_std_multiplier": jnp.array(2.0), "log_std_offset": jnp.array(0.5)}
    _, log_std = pi.apply({"params": p2}, obs)
    np.testing.assert_allclose(log_std, np.clip(2.0 * raw + 0.5, -20, 2), rtol=1e-4, atol=1e-5)


def test_gaussian_policy_log_std_clipping(obs):
    pi = GaussianPolicy(ACT_DIM, hidden_dims=(8,), log_std_min=-5.0, log_std_max=1.0)
    params = pi.init(jax.random.key(0), obs)
    p = params["params"]
    head = p["Dense_1"]
    high = {**p, "Dense_1": {"kernel": jnp.zeros_like(head["kernel"]), "bias": jnp.full(3, 50.0)}}
    low = {**p, "Dense_1": {"kernel": jnp.zeros_like(head["kernel"]), "bias": jnp.full(3, -50.0)}}
    mid = {
        **p,
        "Dense_1": {"kernel": jnp.zeros_like(head["kernel"]), "bias": jnp.array([-4.0, 0.0, 0.5])},
    }
    np.testing.assert_array_equal(pi.apply({"params": high}, obs)[1], np.full((BATCH, 3), 1.0))
    np.testing.assert_array_equal(pi.apply({"params": low}, obs)[1], np.full((BATCH, 3), -5.0))
    np.testing.assert_allclose(
        pi.apply({"params": mid}, obs)[1], np.broadcast_to([-4.0, 0.0, 0.5], (BATCH, 3))
    )


def test_gaussian_policy_tanh_mean_and_invalid_mode(obs):
    pi = GaussianPolicy(ACT_DIM, hidden_dims=(8,), tanh_mean=True)
    params = pi.init(jax.random.key(0), obs)
    p = params["params"]
    mean, _ = pi.apply(params, obs)
    ref = np.tanh(_dense(p["Dense_0"], _mlp_np(p["MLP_0"], obs, 1)))
    np.testing.assert_allclose(mean, ref, rtol=1e-4, atol=1e-5)
    big = {**p, "Dense_0": {**p["Dense_0"], "bias": jnp.full(3, 100.0)}}
    mean, _ = pi.apply({"params": big}, obs)
    assert jnp.all(jnp.abs(mean) <= 1.0)
    with pytest.raises(ValueError, match="std_mode"):
        GaussianPolicy(ACT_DIM, std_mode="fixed").init(jax.random.key(0), obs)


def test_deterministic_policy(obs):
    pi = DeterministicPolicy(ACT_DIM, hidden_dims=(8, 8), layer_norm="after_act")
    params = pi.init(jax.random.key(0), obs)
    p = params["params"]
    a = pi.apply(params, obs)
    assert a.shape == (BATCH, ACT_DIM)
    ref = np.tanh(_dense(p["Dense_0"], _mlp_np(p["MLP_0"], obs, 2, "after_act")))
    np.testing.assert_allclose(a, ref, rtol=1e-4, atol=1e-5)
    big = {**p, "Dense_0": {**p["Dense_0"], "bias": jnp.array([100.0, -100.0, 0.0])}}
    a = pi.apply({"params": big}, obs)
    assert jnp.all(jnp.abs(a) <= 1.0)
    np.testing.assert_allclose(a[:, :2], np.broadcast_to([1.0, -1.0], (BATCH, 2)))


# ----------------------------------------------------------------------------- distributions.py


def _gauss_logpdf_np(mean, log_std, x):
    mean, log_std, x = (np.asarray(a, np.float64) for a in (mean, log_std, x))
    std = np.exp(log_std)
    return np.sum(-((x - mean) ** 2) / (2 * std**2) - np.log(std * np.sqrt(2 * np.pi)), -1)


def test_gaussian_log_prob_hand_and_numpy():
    # Standard normal at 0 in 1-D: −½ log 2π = −0.918939.
    np.testing.assert_allclose(
        gaussian_log_prob(jnp.zeros(1), jnp.zeros(1), jnp.zeros(1)),
        -0.5 * math.log(2 * math.pi),
        rtol=1e-6,
    )
    # N(1, e²) at x = 3, 1-D: z = 2/e; −½ z² − 1 − ½ log 2π.
    z = 2 / math.e
    np.testing.assert_allclose(
        gaussian_log_prob(jnp.ones(1), jnp.ones(1), jnp.full(1, 3.0)),
        -0.5 * z**2 - 1.0 - 0.5 * math.log(2 * math.pi),
        rtol=1e-6,
    )
    rng = np.random.default_rng(0)
    mean, log_std, x = rng.normal(size=(3, 6, 4)).astype(np.float32)
    out = gaussian_log_prob(jnp.asarray(mean), jnp.asarray(log_std), jnp.asarray(x))
    assert out.shape == (6,)
    np.testing.assert_allclose(out, _gauss_logpdf_np(mean, log_std, x), rtol=1e-5, atol=1e-5)


def test_tanh_gaussian_sample_is_reparameterized_and_consistent():
    mean = jnp.array([0.3, -0.5, 0.1])
    log_std = jnp.array([-0.5, -1.0, 0.0])
    # The same seed twice, as two key objects: the sample reuses N(0, 1) noise from key 7.
    a, logp = tanh_gaussian_sample(mean, log_std, jax.random.key(7))
    eps = jax.random.normal(jax.random.key(7), (3,))
    np.testing.assert_allclose(a, jnp.tanh(mean + jnp.exp(log_std) * eps), rtol=1e-6)
    assert jnp.all(jnp.abs(a) < 1.0)
    np.testing.assert_allclose(logp, tanh_gaussian_log_prob(mean, log_std, a), rtol=1e-4, atol=1e-4)
    # And against numpy: log N(u) − Σ log(1 − tanh(u)²).
    u = np.asarray(mean + jnp.exp(log_std) * eps, np.float64)
    ref = _gauss_logpdf_np(mean, log_std, u) - np.sum(np.log(1 - np.tanh(u) ** 2))
    np.testing.assert_allclose(logp, ref, rtol=1e-5, atol=1e-5)


def test_tanh_gaussian_sample_log_prob_matches_log_prob_over_many_samples():
    mean = jnp.array([0.2, -0.4])
    log_std = jnp.array([-0.3, -0.8])
    keys = jax.random.split(jax.random.key(0), 256)
    a, logp = jax.vmap(tanh_gaussian_sample, in_axes=(None, None, 0))(mean, log_std, keys)
    ref = jax.vmap(tanh_gaussian_log_prob, in_axes=(None, None, 0))(mean, log_std, a)
    assert jnp.all(jnp.isfinite(logp))
    np.testing.assert_allclose(logp, ref, rtol=1e-3, atol=2e-3)


def test_tanh_gaussian_change_of_variables_1d():
    # a = tanh(u), u ~ N(μ, σ²): P(a ≤ x) = Φ((artanh x − μ)/σ). The density is the derivative
    # of that CDF; compare it to exp(log_prob) by a central difference, plain Python only.
    mu, log_sigma = 0.4, math.log(0.7)
    sigma = math.exp(log_sigma)

    def cdf(x):
        return 0.5 * (1 + math.erf((math.atanh(x) - mu) / (sigma * math.sqrt(2))))

    h = 1e-5
    xs = [-0.9, -0.5, 0.0, 0.3, 0.6, 0.9, 0.97]
    numeric = [(cdf(x + h) - cdf(x - h)) / (2 * h) for x in xs]
    lp = jax.vmap(lambda x: tanh_gaussian_log_prob(jnp.array([mu]), jnp.array([log_sigma]), x))(
        jnp.array(xs)[:, None]
    )
    np.testing.assert_allclose(np.exp(lp), numeric, rtol=2e-3)
    # The density integrates to one over (−1, 1) (midpoint rule).
    grid = (np.arange(20000) + 0.5) / 20000 * 2 - 1
    dens = jnp.exp(
        jax.vmap(lambda x: tanh_gaussian_log_prob(jnp.array([mu]), jnp.array([log_sigma]), x))(
            jnp.asarray(grid, jnp.float32)[:, None]
        )
    )
    np.testing.assert_allclose(float(jnp.sum(dens)) * (2 / 20000), 1.0, atol=2e-3)


def test_tanh_log_det_is_stable_for_large_pre_tanh():
    # log(1 − tanh(u)²) = log(4 e^{−2u} / (1 + e^{−2u})²) ≈ log 4 − 2u for large u.
    # With mean 20, σ = e^{−10}, the sample is u ≈ 20: log p = log N(u) − (log 4 − 40).
    mean, log_std = jnp.array([20.0]), jnp.array([-10.0])
    a, logp = tanh_gaussian_sample(mean, log_std, jax.random.key(0))
    u = 20.0 + math.exp(-10.0) * float(jax.random.normal(jax.random.key(0), (1,))[0])
    ref = float(gaussian_log_prob(mean, log_std, jnp.array([u]))) - (math.log(4.0) - 2 * u)
    assert np.isfinite(float(logp))
    np.testing.assert_allclose(float(logp), ref, rtol=1e-5)
    assert float(a[0]) == 1.0  # tanh(20) rounds to 1 in float32


def test_tanh_gaussian_log_prob_clips_boundary_actions():
    lp = tanh_gaussian_log_prob(jnp.zeros(2), jnp.zeros(2), jnp.array([1.0, -1.0]))
    assert jnp.isfinite(lp)
    # The boundary is treated as 1 − 1e-6: the same value as just inside it.
    inside = tanh_gaussian_log_prob(jnp.zeros(2), jnp.zeros(2), jnp.array([1 - 1e-6, -1 + 1e-6]))
    np.testing.assert_allclose(lp, inside, rtol=1e-6)
