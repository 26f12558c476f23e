from jaxrl.agents.cql.agent import make_calql, make_cql
from jaxrl.agents.cql.config import CalQLConfig, CQLConfig

__all__ = ["CQLConfig", "CalQLConfig", "make_calql", "make_cql"]
