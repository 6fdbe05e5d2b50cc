"""The ways to compute a derivative: the registry, the JAX methods by family, and the peers'."""
