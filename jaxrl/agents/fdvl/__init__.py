"""f-DVL: IQL-family value learning with an f-divergence value loss (Sikchi et al., 2024;
ALGORITHMS.md §22b)."""

from jaxrl.agents.fdvl.agent import make_fdvl
from jaxrl.agents.fdvl.config import FDVLConfig

__all__ = ["FDVLConfig", "make_fdvl"]
