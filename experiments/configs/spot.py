"""SPOT: the first 2k offline steps pre-train the VAE (CORL: 100k of 1.1M), TD3 with the
density penalty after them; online, λ cools linearly over the online updates to λ_end.
Observations are standardized by the dataset's statistics offline, online and in evaluation
(thuml/SPOT `main.py`, CORL). The actor is thuml/SPOT's, the locomotion reference: dropout 0.1
on its hidden layers while training and learning rate 3e-4 (CORL's antmaze/adroit SPOT: no
dropout, 1e-4, the library's defaults)."""

from experiments.configs._base import with_overrides

VAE_STEPS = 2_000
OFFLINE_STEPS = 12_000
ONLINE_STEPS = 10_000


def get_config():
    c = with_overrides(
        "spot",
        agent={
            "vae_steps": VAE_STEPS,
            "lambd": 0.05,
            "lambd_cool": True,
            "lambd_end": 0.2,
            "vae_hidden_dims": (256, 256),  # 750×750 in the reference; CPU-sized here
            "actor_dropout": 0.1,
            "actor_lr": 3e-4,
        },
        retention="append",
        offline_steps=OFFLINE_STEPS,
        online_steps=ONLINE_STEPS,
        normalize_obs=True,
    )
    # λ reaches λ_end (0.2) at 80 % of the online gradient steps, as in the reference; a
    # reference, so --config.online_steps / --config.utd overrides move it with them.
    c.agent.cool_steps = c.get_ref("online_steps") * c.get_ref("utd")
    return c
