from jaxrl.agents.ro2o.agent import make_ro2o
from jaxrl.agents.ro2o.config import RO2OConfig

__all__ = ["RO2OConfig", "make_ro2o"]
