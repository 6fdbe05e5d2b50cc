"""Other frameworks on the same problems and closed forms. Each peer registers its methods with the
method registry (``jaxgrads.methods.registry.register_method``) when imported; the registry itself
never imports a peer, and a peer's framework is imported only when one of its methods runs."""

from jaxgrads.peers import asdex, numpy, torch  # noqa: F401  (register the torch_*, asdex_*, numpy_* methods)

__all__ = []
