"""XQL: IQL with a Gumbel-regression value loss (Garg et al., 2023; ALGORITHMS.md §22a)."""

from jaxrl.agents.xql.agent import make_xql
from jaxrl.agents.xql.config import XQLConfig

__all__ = ["XQLConfig", "make_xql"]
