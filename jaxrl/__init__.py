"""jaxrl: offline-to-online reinforcement learning with the whole loop compiled by XLA."""

__version__ = "0.1.0"
