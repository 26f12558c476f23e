"""experiments/parity.py's parameter conversion, against a stand-in reference written here: a
numpy forward pass of PyTorch's `nn.Sequential(Linear, ReLU, …)` layout (weight [out, in],
`y = x Wᵀ + b`), which the real references (CORL's TD3+BC `Actor`/`Critic`) use. The harness
itself runs the references in their own venvs and is not a CI test (docs/PARITY.md)."""

import jax
import numpy as np
import pytest

from experiments import parity
from jaxrl.networks import DeterministicPolicy, QEnsemble


def torch_sequential_forward(state: dict, x: np.ndarray, final=None) -> np.ndarray:
    """The stand-in reference: `net.0`, `net.2`, … Linear layers with ReLU between them."""
    n = len(state) // 2
    for i in range(n):
        x = x @ state[f"net.{2 * i}.weight"].T + state[f"net.{2 * i}.bias"]
        if i + 1 < n:
            x = np.maximum(x, 0.0)
    return final(x) if final else x


@pytest.fixture(scope="module")
def nets():
    obs = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    act = np.random.default_rng(1).uniform(-1, 1, (5, 2)).astype(np.float32)
    actor, critic = DeterministicPolicy(2, (8, 8)), QEnsemble(2, (8, 8))
    ap = jax.device_get(actor.init(jax.random.key(0), obs))
    cp = jax.device_get(critic.init(jax.random.key(1), obs, act))
    return actor, ap, critic, cp, obs, act


def test_actor_converts_to_the_torch_layout_and_back(nets):
    actor, ap, _, _, obs, _ = nets
    state = parity.to_torch_sequential(ap)
    assert sorted(state) == [f"net.{i}.{p}" for i in (0, 2, 4) for p in ("bias", "weight")]
    assert state["net.0.weight"].shape == (8, 3)  # [out, in]
    np.testing.assert_allclose(
        torch_sequential_forward(state, obs, np.tanh), actor.apply(ap, obs), rtol=1e-5, atol=1e-6
    )
    back = parity.from_torch_sequential(state, ap)
    assert jax.tree.structure(back) == jax.tree.structure(ap)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(ap), strict=True):
        np.testing.assert_array_equal(a, b)


def test_critic_ensemble_splits_into_one_torch_critic_each(nets):
    _, _, critic, cp, obs, act = nets
    states = parity.ensemble_to_torch(cp)
    assert len(states) == 2
    q = np.asarray(critic.apply(cp, obs, act))  # [2, B]
    sa = np.concatenate([obs, act], axis=-1)  # the reference's torch.cat([state, action], 1)
    for j, state in enumerate(states):
        np.testing.assert_allclose(
            torch_sequential_forward(state, sa)[:, 0], q[j], rtol=1e-5, atol=1e-6
        )
    back = parity.ensemble_from_torch(states, cp)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(cp), strict=True):
        np.testing.assert_array_equal(a, b)
    assert parity.max_abs_diff(states[0], states[0]) == 0.0
    profile = parity.diff_profile(
        states[0], {**states[0], "net.4.bias": states[0]["net.4.bias"] + 1}
    )
    assert profile == {
        "max": 1.0,
        "at": "net.4.bias",
        "share_over_1e-5": 1 / sum(v.size for v in states[0].values()),
    }


def test_conversion_refuses_what_it_cannot_map(nets):
    _, ap, _, _, _, _ = nets
    state = parity.to_torch_sequential(ap)
    del state["net.4.bias"]
    with pytest.raises(ValueError, match="state dict keys .* are not"):
        parity.from_torch_sequential(state, ap)
    with pytest.raises(ValueError, match="only Dense hidden layers convert"):
        parity.mlp_dense_layers({"params": {"MLP_0": {"LayerNorm_0": {}}, "Dense_0": {}}})
    with pytest.raises(FileNotFoundError, match="clone https://github.com/corl-team/CORL"):
        parity.run_reference(
            parity.REFERENCES["td3bc"], parity.ROOT / "nope", parity.ROOT, {}, {}, None, 1
        )


def test_harness_inputs_do_not_depend_on_the_step_count():
    ref = parity.REFERENCES["td3bc"]
    few, many = parity.make_inputs(ref, 2), parity.make_inputs(ref, 5)
    for name in few:
        np.testing.assert_array_equal(few[name], many[name][:2])
    assert few["obs"].shape == (2, ref.batch_size, ref.obs_dim)


def test_awac_modules_are_corls_actor_and_critics():
    """CORL's AWAC: `_mlp` Sequentials, the actor's state-independent `_log_std`."""
    from jaxrl.networks import GaussianPolicy

    obs = np.random.default_rng(2).normal(size=(4, 3)).astype(np.float32)
    act = np.random.default_rng(3).uniform(-1, 1, (4, 2)).astype(np.float32)
    actor = GaussianPolicy(2, (8, 8, 8), std_mode="param")
    critic = QEnsemble(2, (8, 8, 8))
    params = {
        "actor": jax.device_get(actor.init(jax.random.key(0), obs)),
        "critic": jax.device_get(critic.init(jax.random.key(1), obs, act)),
    }
    modules = parity.awac_modules(params, {"critic": params["critic"]})
    assert sorted(modules) == ["_actor", "_critic_1", "_critic_2", "_target_critic_1",
                               "_target_critic_2"]  # fmt: skip
    assert "_log_std" in modules["_actor"] and "_mlp.6.weight" in modules["_actor"]
    mean, log_std = actor.apply(params["actor"], obs)
    state = {k: v for k, v in modules["_actor"].items() if k.startswith("_mlp.")}
    renamed = {k.replace("_mlp.", "net."): v for k, v in state.items()}
    np.testing.assert_allclose(torch_sequential_forward(renamed, obs), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(modules["_actor"]["_log_std"], np.asarray(log_std)[0])
    q = np.asarray(critic.apply(params["critic"], obs, act))
    sa = np.concatenate([obs, act], axis=-1)
    renamed = {k.replace("_mlp.", "net."): v for k, v in modules["_critic_2"].items()}
    np.testing.assert_allclose(
        torch_sequential_forward(renamed, sa)[:, 0], q[1], rtol=1e-5, atol=1e-6
    )
    # the harness's draws: AWAC's two per step, in CORL's order (critic target, then actor)
    draws = parity.awac_draws(jax.random.key(4), parity.REFERENCES["awac"])
    assert draws.shape == (2, 256, 6)
    critic_key, actor_key = jax.random.split(jax.random.key(4))
    np.testing.assert_array_equal(draws[1], jax.random.normal(actor_key, (256, 6)))


def test_sacn_modules_are_corls_vectorized_critic_and_actor_heads():
    """CORL's SAC-N: `VectorizedLinear` weights [E, in, out] as they are (y = x W + b, bias
    [E, 1, out]); the actor's `trunk`, `mu` and `log_sigma`; `log_alpha` from the leaf."""
    from jaxrl.networks import GaussianPolicy

    obs = np.random.default_rng(5).normal(size=(4, 3)).astype(np.float32)
    act = np.random.default_rng(6).uniform(-1, 1, (4, 2)).astype(np.float32)
    actor, critic = GaussianPolicy(2, (8, 8, 8)), QEnsemble(3, (8, 8, 8))
    params = {
        "actor": jax.device_get(actor.init(jax.random.key(0), obs)),
        "critic": jax.device_get(critic.init(jax.random.key(1), obs, act)),
        "temperature": np.float32(0.25),
    }
    modules = parity.sacn_modules(params, {"critic": params["critic"]})
    x = np.broadcast_to(np.concatenate([obs, act], -1), (3, 4, 5))
    state = modules["critic"]
    for i in range(4):
        x = x @ state[f"critic.{2 * i}.weight"] + state[f"critic.{2 * i}.bias"]
        x = np.maximum(x, 0.0) if i < 3 else x
    q = np.asarray(critic.apply(params["critic"], obs, act))
    np.testing.assert_allclose(x[..., 0], q, rtol=1e-5, atol=1e-6)
    a = modules["actor"]
    h = obs
    for i in range(3):
        h = np.maximum(h @ a[f"trunk.{2 * i}.weight"].T + a[f"trunk.{2 * i}.bias"], 0.0)
    mean, log_std = actor.apply(params["actor"], obs)
    np.testing.assert_allclose(h @ a["mu.weight"].T + a["mu.bias"], mean, rtol=1e-5, atol=1e-6)
    raw = h @ a["log_sigma.weight"].T + a["log_sigma.bias"]
    np.testing.assert_allclose(np.clip(raw, -20, 2), log_std, rtol=1e-5, atol=1e-6)
    assert "trunk.6.weight" not in a  # the heads are not part of the trunk
    np.testing.assert_array_equal(modules["log_alpha"]["value"], [0.25])
    assert parity.sacn_draws(jax.random.key(7), parity.REFERENCES["sacn"]).shape == (3, 256, 6)


def test_corl_tanh_log_det_is_the_exact_one_plus_its_epsilon():
    """The diagnosis stand-in: log(1 − tanh² + 1e-6) exceeds jaxrl's exact form by about
    1e-6 / (1 − tanh²(u)) per dimension: negligible near 0, dominant past |u| ≈ 7."""
    import jax.numpy as jnp

    from jaxrl.networks import distributions

    u = jnp.array([[0.0, 0.5, -1.5, 3.0]])
    exact = distributions._tanh_log_det(u)
    np.testing.assert_allclose(parity.corl_tanh_log_det(u), exact, rtol=2e-4)
    far = jnp.array([[9.0]])  # 1 − tanh² ≈ 6e-8 < 1e-6: the epsilon dominates
    assert (
        float(parity.corl_tanh_log_det(far)[0]) > float(distributions._tanh_log_det(far)[0]) + 2.0
    )


def flax_mlp_forward(tree: dict, prefix: str, x: np.ndarray) -> np.ndarray:
    """The stand-in flax reference: implicit_q_learning's `MLP` under `prefix` (`Dense_i`
    kernels [in, out], ReLU between, none after the last)."""
    n = len({k.split("/")[-2] for k in tree if k.startswith(prefix + "/Dense_")})
    for i in range(n):
        x = x @ tree[f"{prefix}/Dense_{i}/kernel"] + tree[f"{prefix}/Dense_{i}/bias"]
        x = np.maximum(x, 0.0) if i + 1 < n else x
    return x


def test_iql_modules_are_implicit_q_learnings_flax_trees():
    """implicit_q_learning: `DoubleCritic` = `Critic_j/MLP_0` with the head as the last Dense,
    `ValueCritic` likewise, the actor's `MLP_0` (activated at the end), mean head `Dense_0`
    and the state-independent `log_stds`."""
    from jaxrl.networks import GaussianPolicy, ValueNetwork

    obs = np.random.default_rng(8).normal(size=(4, 3)).astype(np.float32)
    act = np.random.default_rng(9).uniform(-1, 1, (4, 2)).astype(np.float32)
    actor = GaussianPolicy(2, (8, 8), std_mode="param", tanh_mean=True)
    critic, value = QEnsemble(2, (8, 8)), ValueNetwork((8, 8))
    params = {
        "actor": jax.device_get(actor.init(jax.random.key(0), obs)),
        "critic": jax.device_get(critic.init(jax.random.key(1), obs, act)),
        "value": jax.device_get(value.init(jax.random.key(2), obs)),
    }
    modules = parity.iql_ikostrikov_modules(params, {"critic": params["critic"]})
    assert sorted(modules) == ["actor", "critic", "target_critic", "value"]
    assert sorted(modules["value"]) == [
        f"MLP_0/Dense_{i}/{p}" for i in range(3) for p in ("bias", "kernel")
    ]
    q = np.asarray(critic.apply(params["critic"], obs, act))
    sa = np.concatenate([obs, act], axis=-1)
    for j in range(2):
        out = flax_mlp_forward(modules["critic"], f"Critic_{j}/MLP_0", sa)[:, 0]
        np.testing.assert_allclose(out, q[j], rtol=1e-5, atol=1e-6)
    v = flax_mlp_forward(modules["value"], "MLP_0", obs)[:, 0]
    np.testing.assert_allclose(v, value.apply(params["value"], obs), rtol=1e-5, atol=1e-6)
    a = modules["actor"]
    h = np.maximum(flax_mlp_forward(a, "MLP_0", obs), 0.0)  # activate_final=True
    mean, log_std = actor.apply(params["actor"], obs)
    head = np.tanh(h @ a["Dense_0/kernel"] + a["Dense_0/bias"])  # tanh_squash off: tanh(μ)
    np.testing.assert_allclose(head, mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(a["log_stds"], np.asarray(log_std)[0])
    none = parity.no_draws(jax.random.key(0), parity.REFERENCES["iql"])
    assert none.size == 0


def test_x64_is_refused_for_torch_references():
    with pytest.raises(ValueError, match="--x64 runs JAX references only"):
        parity.compare(parity.REFERENCES["td3bc"], parity.ROOT, parity.ROOT, 1, x64=True)
