"""Ctrl-C (and SIGTERM: a CI cancel, ``timeout``, a batch scheduler) that always reaches the CLI's
handler: one line and exit 130 (143 for SIGTERM), finished rows kept, never a swallowed traceback.

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

__all__ = ["interrupt_handled", "interrupts", "last_signal"]

RETRY_S = 0.05
STOPPING = (signal.SIGINT, signal.SIGTERM)  # each raised as KeyboardInterrupt: the same clean-up
_pending = False
_signal = signal.SIGINT


def _importing(frame) -> bool:
    """Whether ``frame`` runs under an import: raising there can break a native extension's
    initialization (jaxlib's turns it into an ImportError, or aborts)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _raise(signum, frame) -> None:
    global _pending, _signal
    if signum == signal.SIGALRM and not _pending:
        return
    if signum != signal.SIGALRM:
        _signal = signum
    _pending = True
    signal.setitimer(signal.ITIMER_REAL, RETRY_S)  # again, in case this one is swallowed or deferred
    if _importing(frame):
        return  # delivered at the next safe point, once the import has finished
    raise KeyboardInterrupt


def last_signal() -> int:
    """The signal that stopped the run (SIGINT unless a SIGTERM came): its exit code is 128 + it."""
    return int(_signal)


def interrupt_handled() -> None:
    """The CLI caught the KeyboardInterrupt: no more retries."""
    global _pending
    _pending = False
    signal.setitimer(signal.ITIMER_REAL, 0)


@contextlib.contextmanager
def interrupts():
    """Installs the retrying handler for SIGINT, SIGTERM and SIGALRM where Python's defaults are in
    force (SIGTERM's: where nothing else handles it)."""
    try:
        default = signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ours = [signal.SIGINT, signal.SIGALRM]
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            ours.append(signal.SIGTERM)
        previous = {s: signal.signal(s, _raise) for s in ours} if default else {}
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
