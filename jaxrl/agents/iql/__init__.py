from jaxrl.agents.iql.agent import make_iql
from jaxrl.agents.iql.config import IQLConfig

__all__ = ["IQLConfig", "make_iql"]
