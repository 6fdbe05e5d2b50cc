"""Ctrl-C that always reaches the CLI's handler: one line and exit 130, never a swallowed traceback.

Python turns SIGINT into ``KeyboardInterrupt`` wherever the main thread happens to be. Inside a gc
callback (JAX registers one), a weakref callback (importlib's module locks) or a ``__del__``, the
exception is reported as "ignored", a traceback is printed, and the program carries on as if no
key had been pressed. So the handler here raises, and also arms a 50 ms timer: until the CLI says
it has handled the interrupt (:func:`interrupt_handled`), SIGALRM raises it again; and a swallowed
KeyboardInterrupt is not printed (``sys.unraisablehook``), since the retry delivers it. Under an
import (JAX's takes about a second) the interrupt waits for the import to finish: raised inside a
native extension's initialization it becomes an ImportError or an abort.
"""

import contextlib
import signal
import sys

__all__ = ["interrupt_handled", "interrupts"]

RETRY_S = 0.05
_pending = False


def _importing(frame) -> bool:
    """Whether ``frame`` runs under an import: raising there can break a native extension's
    initialization (jaxlib's turns it into an ImportError, or aborts)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _raise(signum, frame) -> None:
    global _pending
    if signum == signal.SIGALRM and not _pending:
        return
    _pending = True
    signal.setitimer(signal.ITIMER_REAL, RETRY_S)  # again, in case this one is swallowed or deferred
    if _importing(frame):
        return  # delivered at the next safe point, once the import has finished
    raise KeyboardInterrupt


def interrupt_handled() -> None:
    """The CLI caught the KeyboardInterrupt: no more retries."""
    global _pending
    _pending = False
    signal.setitimer(signal.ITIMER_REAL, 0)


@contextlib.contextmanager
def interrupts():
    """Installs the retrying handler for SIGINT and SIGALRM where Python's defaults are in force."""
    try:
        default = signal.getsignal(signal.SIGINT) is signal.default_int_handler
        previous = {s: signal.signal(s, _raise) for s in (signal.SIGINT, signal.SIGALRM)} if default else {}
    except ValueError:  # not the main thread: leave signals alone
        previous = {}
    hook = sys.unraisablehook

    def quiet(unraisable) -> None:
        if not (_pending and unraisable.exc_type is KeyboardInterrupt):
            hook(unraisable)

    if previous:
        sys.unraisablehook = quiet
    try:
        yield
    finally:
        if previous:
            interrupt_handled()
            sys.unraisablehook = hook
            for sig, handler in previous.items():
                signal.signal(sig, handler)
