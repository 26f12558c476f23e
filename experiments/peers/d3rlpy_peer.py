"""Peer: d3rlpy (PyTorch) updates/s on a random halfcheetah-shaped dataset; prints one JSON line.

Run by experiments/benchmark.py inside the d3rlpy venv (experiments/peers/setup.sh):
    python d3rlpy_peer.py '{"algo": "IQL", "hidden": [256, 256], "batch": 256, "steps": 300}'
Each step is what d3rlpy's own `fit` loop does per gradient step: sample a transition batch
from the dataset's replay buffer, then `algo.update(batch)`.
"""

import json
import statistics
import sys
import time

import numpy as np


def main() -> None:
    args = json.loads(sys.argv[1])
    import d3rlpy
    import torch

    rows, obs_dim, act_dim = args.get("rows", 100_000), args["obs_dim"], args["action_dim"]
    rng = np.random.default_rng(0)
    timeouts = (np.arange(rows) % 1000 == 999).astype(np.float32)
    timeouts[-1] = 1.0  # d3rlpy needs at least one episode end (small test datasets)
    dataset = d3rlpy.dataset.MDPDataset(
        observations=rng.normal(size=(rows, obs_dim)).astype(np.float32),
        actions=rng.uniform(-1, 1, (rows, act_dim)).astype(np.float32),
        rewards=rng.normal(size=rows).astype(np.float32),
        terminals=np.zeros(rows, np.float32),
        timeouts=timeouts,
    )
    d3rlpy.seed(0)
    enc = d3rlpy.models.VectorEncoderFactory(hidden_units=list(args["hidden"]))
    name = args["algo"]
    kwargs = dict(batch_size=args["batch"], actor_encoder_factory=enc, critic_encoder_factory=enc)
    if name == "IQL":
        kwargs["value_encoder_factory"] = enc
    cfg = getattr(d3rlpy.algos, name + "Config")(**kwargs)
    algo = cfg.create(device="cpu:0" if not torch.cuda.is_available() else "cuda:0")
    algo.build_with_dataset(dataset)

    def step():
        batch = dataset.sample_transition_batch(args["batch"])
        algo.update(batch)

    for _ in range(10):  # warm-up (allocator, first-call overheads)
        step()
    steps = args["steps"]
    chunk = max(1, steps // 3)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(chunk):
            step()
        times.append((time.perf_counter() - t0) / chunk)
    per_update = statistics.median(times)
    settings = (
        f"{name}, {'x'.join(map(str, args['hidden']))} MLPs, batch {args['batch']}, "
        f"torch threads {torch.get_num_threads()}, d3rlpy defaults otherwise"
    )
    print(
        json.dumps(
            {
                "updates_per_s": 1.0 / per_update,
                "timed_updates": 3 * chunk,
                "settings": settings,
                "versions": {"d3rlpy": d3rlpy.__version__, "torch": torch.__version__},
            }
        )
    )


if __name__ == "__main__":
    main()
