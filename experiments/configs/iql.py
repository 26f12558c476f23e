"""IQL (CORL locomotion defaults: expectile 0.7, β 3), offline then online with appended data;
observations standardized by the dataset's statistics (CORL `normalize: true`) and rewards
scaled by T / (R_max − R_min) of the dataset's episode returns (implicit_q_learning, CORL);
the actor's learning rate cosine-annealed over the offline steps (CORL)."""

from experiments.configs._base import with_overrides


def get_config():
    c = with_overrides(
        "iql",
        agent={"expectile": 0.7, "beta": 3.0},
        retention="append",
        normalize_obs=True,
        reward_normalization="return_range",
    )
    # CORL's actor learning rate: cosine-annealed over the offline steps (periodic; it climbs
    # back during fine-tuning, as CORL's scheduler keeps stepping); a reference, so
    # --config.offline_steps moves it.
    c.agent.actor_lr_schedule = "cosine"
    c.agent.actor_lr_decay_steps = c.get_ref("offline_steps")
    return c
