"""The ``jaxgrads`` command."""

__all__ = []
