"""Math shared by the algorithms of one family, written once.

`sac`: the SAC family (SAC/RLPD, SAC-N/EDAC, CQL/Cal-QL, WSRL, RO2O); `td3`: the TD3 family
(TD3+BC, ReBRAC, SPOT, PRDC, A2PR); `iql`: the IQL family (IQL, RIQL, FamO2O, AWAC, XQL,
f-DVL). An algorithm's own terms live in its folder's `losses.py`; its `agent.py` composes.
"""
