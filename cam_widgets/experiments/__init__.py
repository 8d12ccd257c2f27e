"""Reproductions of the papers' experiments on our generated data and demo models."""
