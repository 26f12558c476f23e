from jaxrl.agents.bc.agent import make_bc
from jaxrl.agents.bc.config import BCConfig

__all__ = ["BCConfig", "make_bc"]
