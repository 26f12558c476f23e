from jaxrl.agents.rebrac.agent import make_rebrac
from jaxrl.agents.rebrac.config import ReBRACConfig

__all__ = ["ReBRACConfig", "make_rebrac"]
