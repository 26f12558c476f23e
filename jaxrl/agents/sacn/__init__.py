from jaxrl.agents.sacn.agent import make_edac, make_sacn
from jaxrl.agents.sacn.config import EDACConfig, SACNConfig

__all__ = ["EDACConfig", "SACNConfig", "make_edac", "make_sacn"]
