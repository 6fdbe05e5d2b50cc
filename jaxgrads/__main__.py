"""``python -m jaxgrads``: the same entry point as the ``jaxgrads`` console script."""

from jaxgrads.cli.main import entry

entry()
