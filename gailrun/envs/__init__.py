"""Environments: making and seeding vector envs, the subprocess and EnvPool backends, replayable state."""
