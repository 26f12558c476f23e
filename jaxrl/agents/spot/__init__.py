from jaxrl.agents.spot.agent import make_spot
from jaxrl.agents.spot.config import SPOTConfig

__all__ = ["SPOTConfig", "make_spot"]
