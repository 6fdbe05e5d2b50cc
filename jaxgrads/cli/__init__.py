"""The ``jaxgrads`` command."""
