"""``python -m jaxgrads``: the same entry point as the ``jaxgrads`` console script.

A Ctrl-C while the CLI's own modules still import (before its handler is up, and on a loaded machine
that takes a moment) leaves at once with the CLI's one line: nothing has been written yet.
"""

import os
import signal
import sys


def _before_the_cli(signum, frame) -> None:
    sys.stderr.write("jaxgrads: interrupted; finished rows are kept (rerun with --resume)\n")
    sys.stderr.flush()
    os._exit(130)


signal.signal(signal.SIGINT, _before_the_cli)
from jaxgrads.cli.main import entry  # noqa: E402

signal.signal(signal.SIGINT, signal.default_int_handler)  # the CLI installs its own from here
entry()
