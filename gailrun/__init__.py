"""gailrun: PPO, GAIL and behaviour cloning on Gymnasium environments, driven by Hydra configs."""

__version__ = "0.1.0"

from gailrun.config.resolvers import register_resolvers

register_resolvers()
