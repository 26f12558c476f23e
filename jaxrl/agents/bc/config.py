"""BC and %BC hyperparameters (CORL `algorithms/offline/any_percent_bc.py`)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class BCConfig:
    """Behaviour cloning, optionally on the top-return fraction of episodes (%BC).

    `top_fraction` < 1 keeps only the best episodes of the dataset, ranked by their
    `top_fraction_discount`-discounted return; the training layer filters the dataset once on
    the host before moving it to the device (`jaxrl.data.trajectories.top_trajectories`).
    CORL's 10%BC is `top_fraction=0.1`; plain BC is 1.0.
    """

    hidden_dims: tuple[int, ...] = (256, 256)  # static: actor MLP
    policy: str = "deterministic"  # static: "deterministic" tanh MSE (CORL) | "gaussian" NLL
    layer_norm: str = "none"  # static: LayerNorm placement in the actor
    init: str = "xavier"  # static: hidden-layer init ("xavier" | "orthogonal" | "lecun")
    bc_reduction: str = "mean"  # static: deterministic loss "mean" (F.mse_loss) | "sum" over |A|
    top_fraction: float = 1.0  # static: share of episodes kept, best first (0.1: 10%BC)
    top_fraction_discount: float = 0.99  # static: γ of the return that ranks episodes (CORL)
    actor_lr: float = 3e-4  # Adam learning rate offline
    online_actor_lr: float = 0.0  # learning rate after the switch; 0 keeps the policy fixed
    exploration_noise: float = 0.0  # σ of Gaussian noise on deterministic actions online
