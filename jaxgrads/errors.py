"""The one error type for bad input, in a module that imports nothing heavy.

The CLI catches it around everything it does, imports included, so it must be importable before
JAX is: a Ctrl-C or a bad flag in the first second still gets one line and exit code 2 (130 for
Ctrl-C), never a traceback.
"""

__all__ = ["JaxgradsError", "one_line"]


class JaxgradsError(ValueError):
    """Bad input: the message is one line naming the bad value and the valid ones."""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as a row's message: ``Type: first line``, at most ``limit`` characters."""
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:limit]
