from jaxrl.agents.sac.agent import make_sac
from jaxrl.agents.sac.config import SACConfig

__all__ = ["SACConfig", "make_sac"]
