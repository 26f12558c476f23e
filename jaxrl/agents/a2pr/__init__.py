from jaxrl.agents.a2pr.agent import make_a2pr
from jaxrl.agents.a2pr.config import A2PRConfig

__all__ = ["A2PRConfig", "make_a2pr"]
