"""The training config: its typed schema (`schema`) and the OmegaConf resolvers conf/ uses (`resolvers`)."""
