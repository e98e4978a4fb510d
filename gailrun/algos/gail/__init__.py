"""GAIL: the discriminator, its update and the reward it hands the on-policy pipeline."""
