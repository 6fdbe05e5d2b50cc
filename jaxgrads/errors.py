"""The one error type for bad input, in a module that imports nothing heavy.

The CLI catches it around everything it does, imports included, so it must be importable before
JAX is: a Ctrl-C or a bad flag in the first second still gets one line and exit code 2 (130 for
Ctrl-C), never a traceback.
"""

__all__ = ["JaxgradsError"]


class JaxgradsError(ValueError):
    """Bad input: the message is one line naming the bad value and the valid ones."""
