"""InfoGAIL: GAIL plus a posterior over latent codes; how well the codes separate styles."""
