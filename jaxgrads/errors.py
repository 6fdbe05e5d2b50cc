"""The one error type for bad input, in a module that imports nothing heavy.

The CLI catches it around everything it does, imports included, so it must be importable before
JAX is: a Ctrl-C or a bad flag in the first second still gets one line and exit code 2 (130 for
Ctrl-C), never a traceback.
"""

__all__ = ["TRACEBACK", "JaxgradsError", "PluginError", "one_line"]


class JaxgradsError(ValueError):
    """Bad input: the message is one line naming the bad value and the valid ones."""


class PluginError(JaxgradsError):
    """A user's function, closed form or input maker raised: the message names which, and the
    exception; in a sweep it is that case's ``error`` row, never the end of the run."""


TRACEBACK = "Traceback (most recent call last):"


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as a row's message: ``Type: first line``, at most ``limit`` characters; where
    the message carries a traceback (a callback that raised inside XLA), its last line, the error."""
    text = [line.strip() for line in f"{type(exc).__name__}: {exc}".strip().splitlines() if line.strip()]
    if len(text) > 1 and text[0].endswith(TRACEBACK):
        return f"{type(exc).__name__}: {text[-1]}"[:limit]
    return (text[0] if text else type(exc).__name__)[:limit]
