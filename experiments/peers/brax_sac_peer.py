"""Peer: brax.training's own SAC trainer on a Brax task; prints one JSON line.

Run by experiments/benchmark.py inside the brax venv (experiments/peers/setup.sh):
    python brax_sac_peer.py '{"num_envs": 16, "utd": 1, "batch": 256, "num_timesteps": 2400}'
The run has three training epochs (num_evals=4); the first includes compilation, so the env
steps/s reported is the median of brax's own `training/sps` over the later epochs. Evaluation
uses one environment, so it costs little; it lies outside brax's timed epochs anyway.
"""

import json
import statistics
import sys
import time


def main() -> None:
    args = json.loads(sys.argv[1])
    import brax
    import jax
    from brax import envs
    from brax.training.agents.sac import networks as sac_networks
    from brax.training.agents.sac import train as sac

    env = envs.get_environment(
        args.get("env", "halfcheetah"), backend=args.get("backend", "positional")
    )
    hidden = tuple(args.get("hidden", (256, 256)))
    sps = []
    t0 = time.perf_counter()

    def progress(step, metrics):
        if "training/sps" in metrics:
            sps.append(float(metrics["training/sps"]))

    n = args["num_envs"]
    sac.train(
        environment=env,
        num_timesteps=args["num_timesteps"],
        episode_length=1000,
        action_repeat=1,
        num_envs=n,
        num_eval_envs=1,
        learning_rate=3e-4,
        discounting=0.99,
        seed=0,
        batch_size=args["batch"],
        num_evals=4,
        normalize_observations=False,
        reward_scaling=1.0,
        tau=0.005,
        min_replay_size=n,
        max_replay_size=args.get("max_replay_size") or args["num_timesteps"],
        grad_updates_per_step=args["utd"],
        network_factory=lambda *a, **k: sac_networks.make_sac_networks(
            *a, hidden_layer_sizes=hidden, **k
        ),
        progress_fn=progress,
    )
    wall = time.perf_counter() - t0
    steady = statistics.median(sps[1:]) if len(sps) > 1 else sps[-1]
    settings = (
        f"{args.get('env', 'halfcheetah')} {args.get('backend', 'positional')}, envs {n}, "
        f"grad_updates_per_step {args['utd']}, batch {args['batch']}, "
        f"{'x'.join(map(str, hidden))} MLPs, lr 3e-4, γ 0.99, no obs normalization"
    )
    print(
        json.dumps(
            {
                "env_steps_per_s": steady,
                "updates_per_s": steady / n * args["utd"],
                "compile_s": None,
                "epoch_sps": sps,
                "wall_s": wall,
                "settings": settings,
                "versions": {"brax": brax.__version__, "jax": jax.__version__},
            }
        )
    )


if __name__ == "__main__":
    main()
