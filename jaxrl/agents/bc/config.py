"""BC and %BC hyperparameters (CORL `algorithms/offline/any_percent_bc.py`)."""

from __future__ import annotations

import dataclasses

from jaxrl.agents.base import AgentConfig, DataNeeds, dynamic


@dataclasses.dataclass(frozen=True)
class BCConfig(AgentConfig):
    """Behaviour cloning, optionally on the top-return fraction of episodes (%BC).

    `top_fraction` < 1 keeps only the best episodes of the dataset, ranked by their
    `top_fraction_discount`-discounted return; the training layer filters the dataset once on
    the host before moving it to the device (`jaxrl.data.trajectories.top_trajectories`).
    CORL's 10%BC is `top_fraction=0.1`; plain BC is 1.0.
    """

    hidden_dims: tuple[int, ...] = (256, 256)  # actor MLP
    policy: str = "deterministic"  # "deterministic" tanh MSE (CORL) | "gaussian" NLL
    layer_norm: str = "none"  # LayerNorm placement in the actor
    init: str = "xavier"  # hidden-layer init ("xavier" | "orthogonal" | "lecun")
    bc_reduction: str = "mean"  # deterministic loss "mean" (F.mse_loss) | "sum" over |A|
    top_fraction: float = 1.0  # share of episodes kept, best first (0.1: 10%BC)
    top_fraction_discount: float = 0.99  # γ of the return that ranks episodes (CORL)
    actor_lr: float = dynamic(3e-4)  # Adam learning rate offline
    # learning rate after the switch; 0 keeps the policy fixed
    online_actor_lr: float = dynamic(0.0)
    exploration_noise: float = dynamic(0.0)  # σ of Gaussian noise on deterministic actions online

    def data_needs(self) -> DataNeeds:
        """%BC trains on the best `top_fraction` of the episodes."""
        return DataNeeds(
            top_fraction=self.top_fraction, top_fraction_discount=self.top_fraction_discount
        )
