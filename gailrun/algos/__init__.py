"""The learning algorithms, one folder each: PPO (the update), GAIL and InfoGAIL (reward hooks), BC."""
