"""The default job: IQL pre-trained on generated halfcheetah-medium, then fine-tuned online.

Sized for a 2-core CPU: 14 minutes the first time (7 of them generating the dataset), 5 after.
Every field is overridable: `--config.offline_steps=50000 --config.agent.beta=10`.
"""

import dataclasses

import ml_collections

from jaxrl.agents.iql import IQLConfig


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.algo = "iql"  # algorithm: any name in jaxrl.agents.registry.AGENTS
    # The algorithm's own fields (all of them, so each is overridable: --config.agent.beta=10).
    c.agent = ml_collections.ConfigDict(dataclasses.asdict(IQLConfig()))
    # 2x128 networks keep the default job within minutes on a 2-core CPU (an update is
    # compute-bound there: 2x256 is ~3.5x slower); the gpu config uses the reference 2x256.
    c.agent.hidden_dims = (128, 128)
    c.task = "halfcheetah"  # Brax task
    c.dataset = "halfcheetah-medium-v0"  # cached dataset name or file path ("" for none)
    c.dataset_preset = "cpu"  # size preset if the dataset must be generated first
    c.seeds = (0, 1, 2, 3)  # one run per seed, vmapped into one program
    c.batch_size = 256  # transitions per gradient step
    c.offline_steps = 10_000  # gradient steps on the dataset
    c.online_steps = 10_000  # environment steps after the switch
    c.num_envs = 1  # parallel environments per run online
    c.utd = 1  # gradient steps per environment step
    c.chunk_length = 1_000  # steps per compiled chunk
    # utd updates after each env step | "after_chunk": the chunk's env steps with the policy
    # fixed, then their updates (Cal-QL's loop)
    c.online_updates = "interleaved"
    # Half of every online batch from the dataset (Cal-QL, RLPD style): with "append" (CORL)
    # the 100k offline rows drown the first 10k online ones and fine-tuning barely moves.
    c.retention = "mixed"  # offline data online: append | mixed | none
    c.offline_ratio = 0.5  # offline share of a batch with retention=mixed
    c.buffer_capacity = 0  # online buffer rows (0: online_steps)
    c.warmup_steps = 0  # env steps before the first online update
    c.warmup_policy = "agent"  # agent | random
    c.sampler = "uniform"  # offline draws: uniform | rw | aw | topk (trajectory weighting)
    c.sampler_temperature = 0.1  # α of rw / aw
    c.sampler_top_fraction = 0.1  # share of best trajectories topk draws from
    c.reward_scale = 1.0  # r * scale + bias
    c.reward_bias = 0.0
    # The data processing of the algorithm's reference (each config file sets its own; the
    # other files start from "none"/False, see _base.with_overrides):
    # IQL's locomotion rewards r * T / (R_max - R_min) over the dataset's episode returns, T
    # the time limit, before scale and bias, offline and online (implicit_q_learning
    # train_offline.py, CORL finetune/iql.py; XQL, f-DVL, FamO2O) | "none".
    c.reward_normalization = "return_range"
    # Standardize observations by the dataset's mean and std (+1e-3) offline, online and in
    # evaluation (CORL's `normalize`, on in every CORL IQL config; AWAC, SPOT, TD3+BC, PRDC,
    # A2PR, RIQL and RO2O set it too).
    c.normalize_obs = True
    c.eval_every = 2_000  # steps between evaluations
    c.eval_episodes = 5  # episodes per evaluation and run
    c.episode_length = 0  # 0: the task's time limit
    c.checkpoint_every = 5  # chunks between checkpoints (0: only at the switch and the end)
    c.checkpoint_interval_s = 600.0  # also checkpoint after this many seconds (0: off)
    c.keep_checkpoints = 3  # newest checkpoints kept (0: no checkpoints, no resume)
    c.on_divergence = "stop"  # NaN/inf in a run: stop (keep last good checkpoint) | freeze it
    # Sweep in one program (JSON, keys: offline_ratio, agent.<dynamic field>), e.g.
    # --config.sweep='{"agent.beta": [1, 3, 10]}': runs = settings x seeds, one compile.
    c.sweep = ""
    c.sweep_mode = "grid"  # grid | random (sweep_samples draws, seeded by sweep_seed)
    c.sweep_samples = 0  # settings drawn in random mode
    c.sweep_seed = 0  # seed of the random draws
    # CORL's actor learning rate: cosine-annealed over the offline steps (periodic; it climbs
    # back during fine-tuning, as CORL's scheduler keeps stepping); a reference, so
    # --config.offline_steps moves it.
    c.agent.actor_lr_schedule = "cosine"
    c.agent.actor_lr_decay_steps = c.get_ref("offline_steps")
    return c
