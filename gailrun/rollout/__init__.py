"""Collecting experience: the collector that steps the envs, rollout storage, normalizers, relabelled
rewards, GAE."""
