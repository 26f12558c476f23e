"""SAC-N / EDAC's own losses, module-level with params first.

The target, the actor loss and the temperature step are the SAC family's
(`jaxrl.agents.families.sac`: `critic_target` with the min over all N critics, `actor_loss`
with "min", `temperature_step` in the "log_alpha" form). What is SAC-N's and EDAC's own is
the critic loss: the TD error summed over the critics, and EDAC's ensemble-gradient
diversity term.

References: An et al., 2021, "Uncertainty-Based Offline Reinforcement Learning with
Diversified Q-Ensemble" (SAC-N eq. (2), EDAC eq. (4)); CORL `algorithms/offline/edac.py`;
ALGORITHMS.md §15 "Agent: EDAC".
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.networks import QEnsemble
from jaxrl.networks.values import QNetwork
from jaxrl.ops import ensemble_gradient_diversity, ensemble_td_loss
from jaxrl.types import Transition


def member_q_values(critic_params, critic: QEnsemble, obs: jax.Array, actions: jax.Array):
    """Q_i(s, a_i) with a separate action input per member: actions [N, B, |A|] → [N, B].

    The ensemble's parameters are stacked on axis 0 (`nn.vmap`), so vmapping one member's
    network over them evaluates each member on its own action copy; the gradient with respect
    to `actions` is then every member's own ∇_a Q_i in one backward pass.
    """
    (inner,) = critic_params["params"].values()
    net = QNetwork(critic.hidden_dims, critic.layer_norm, critic.init_mode, critic.output_scale)
    return jax.vmap(lambda p, a: net.apply({"params": p}, obs, a))(inner, actions)


def critic_loss(
    critic_params,
    critic: QEnsemble,
    batch: Transition,
    target: jax.Array,
    eta: float | jax.Array,
    diversity: bool,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Σ_i mean_B (Q_i(s,a) − y)² [+ η · diversity of ∇_a Q_i(s,a)] (EDAC eq. (4)).

    Args:
      target: y from `families.sac.critic_target` (min over all target critics, with the
        entropy backup), shape [B].
      eta: η, the weight of the diversity term.
      diversity: EDAC (True) or SAC-N (False, the term is 0).

    Returns:
      (loss, aux) with aux "q" [N, B], "td_loss" and "diversity".
    """
    n = critic.num
    if diversity:
        actions = jnp.broadcast_to(batch.action, (n,) + batch.action.shape)
        grad_fn = jax.grad(
            lambda a: (jnp.sum(q := member_q_values(critic_params, critic, batch.obs, a)), q),
            has_aux=True,
        )
        action_grads, q = grad_fn(actions)
        div = ensemble_gradient_diversity(action_grads)
    else:
        q = critic.apply(critic_params, batch.obs, batch.action)
        div = jnp.zeros(())
    td = ensemble_td_loss(q, target, "sum")
    return td + eta * div, {"q": q, "td_loss": td, "diversity": div}
