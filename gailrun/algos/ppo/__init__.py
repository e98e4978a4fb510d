"""PPO: the update with its switches, and the hand-written NumPy gradient that accelerates it."""
