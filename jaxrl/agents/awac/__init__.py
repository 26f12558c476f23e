from jaxrl.agents.awac.agent import make_awac
from jaxrl.agents.awac.config import AWACConfig

__all__ = ["AWACConfig", "make_awac"]
