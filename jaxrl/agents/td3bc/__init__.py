from jaxrl.agents.td3bc.agent import make_td3bc
from jaxrl.agents.td3bc.config import TD3BCConfig

__all__ = ["TD3BCConfig", "make_td3bc"]
