from jaxrl.agents.prdc.agent import make_prdc
from jaxrl.agents.prdc.config import PRDCConfig

__all__ = ["PRDCConfig", "make_prdc"]
