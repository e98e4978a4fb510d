"""Behaviour cloning: as an algorithm, as pretraining and as a regularizer of PPO."""
