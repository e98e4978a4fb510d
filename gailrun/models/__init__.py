"""The networks, the latent code they may see, and a trained policy as a self-contained object."""
