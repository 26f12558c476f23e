from jaxrl.agents.famo2o.agent import make_famo2o
from jaxrl.agents.famo2o.config import FamO2OConfig

__all__ = ["FamO2OConfig", "make_famo2o"]
