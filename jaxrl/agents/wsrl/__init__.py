from jaxrl.agents.wsrl.agent import make_wsrl
from jaxrl.agents.wsrl.config import WSRLConfig

__all__ = ["WSRLConfig", "make_wsrl"]
