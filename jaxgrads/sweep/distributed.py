"""Runs across processes: ``jax.distributed`` set up, kept in step, and started on one machine.

A sweep of N processes (``jaxgrads run --processes N`` on one machine, or one ``jaxgrads run`` per
host under a launcher) is one SPMD program per case: every process plans the same cases in the same
order, builds the same kernels, and the sharded methods' mesh spans the devices of all of them. Only
process 0 (the lead) writes the result file. Whatever decides how often a kernel is called (the
first call's skip, the timing loop's calibration) is agreed across processes with
:func:`agree`, the elementwise maximum, so no process waits in a collective another never enters;
a sample's time is the slowest process's (the Jacobian is whole when its last share is).

On CPUs the processes' collectives go through gloo (``jax_cpu_collectives_implementation``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from jaxgrads.errors import JaxgradsError

__all__ = ["agree", "free_port", "initialize", "is_lead", "launch", "parse_address", "processes"]


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` as (host, port); a one-line JaxgradsError otherwise."""
    host, _, port = str(text).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise JaxgradsError(
            f"--coordinator {text}: expected HOST:PORT with a port 1-65535, e.g. 10.0.0.1:1234"
        )
    return host, int(port)


def free_port(host: str = "127.0.0.1", port: int = 0) -> int:
    """``port`` on ``host`` if nothing listens there (0: one the system picks); a one-line
    JaxgradsError naming the port when it is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            why = "taken" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise JaxgradsError(
                f"--coordinator {host}:{port}: the port is {why}; give a free port, or leave "
                "--coordinator out and one is picked"
            ) from None
        return s.getsockname()[1]


def initialize(coordinator: str | None, num_processes: int | None, process_id: int | None) -> None:
    """Joins this process to a ``jax.distributed`` run, before JAX starts a backend.

    With no arguments JAX finds them itself under a launcher it knows (SLURM's ``srun``, Open MPI's
    ``mpirun``, ...); otherwise all three are given. CPU collectives go through gloo.
    """
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(coordinator, num_processes, process_id)
    except Exception as exc:  # no launcher found, the coordinator unreachable
        text = str(exc).strip().splitlines()
        why = text[0] if text else type(exc).__name__
        raise JaxgradsError(f"jax.distributed could not start: {why}") from None


def processes() -> int:
    import jax

    return jax.process_count()


def is_lead() -> bool:
    """Whether this process writes the run's results (process 0; a run of one process is its lead)."""
    import jax

    return jax.process_index() == 0


def agree(values: Sequence[float]) -> tuple[float, ...]:
    """The elementwise maximum of ``values`` over every process (``values`` itself in a run of one).

    A collective: every process calls it at the same point with as many values.
    """
    import jax

    if jax.process_count() == 1:
        return tuple(float(v) for v in values)
    import numpy as np
    from jax.experimental import multihost_utils

    gathered = multihost_utils.process_allgather(np.asarray(values, np.float64))
    return tuple(float(v) for v in np.max(np.asarray(gathered).reshape(jax.process_count(), -1), axis=0))


def _without(argv: Sequence[str], flags: Sequence[str]) -> list[str]:
    """``argv`` without each of ``flags`` and its value (``--flag V`` or ``--flag=V``)."""
    out, skip = [], False
    for token in argv:
        if skip:
            skip = False
        elif token in flags:
            skip = True
        elif not any(token.startswith(f + "=") for f in flags):
            out.append(token)
    return out


def launch(run_argv: Sequence[str], count: int, coordinator: str | None) -> int:
    """Starts ``count`` ``jaxgrads run`` processes on this machine, joined by ``jax.distributed``.

    ``run_argv`` are the run's own arguments (without ``--processes``): process 0 gets them as they
    are and writes the results; the others write theirs into a folder removed afterwards. A process
    that fails stops the others (they would wait in a collective for it), and its last error line
    is the run's one line. Returns process 0's exit status.
    """
    host, port = parse_address(coordinator) if coordinator else ("127.0.0.1", 0)
    address = f"{host}:{free_port(host, port)}"
    base = [sys.executable, "-m", "jaxgrads", *_without(run_argv, ("--processes", "--coordinator"))]
    join = ["--coordinator", address, "--num-processes", str(count)]
    with tempfile.TemporaryDirectory(prefix="jaxgrads-processes-") as tmp:
        procs, errs = [], []
        try:
            for k in range(count):
                err = open(Path(tmp) / f"stderr{k}", "w+")  # noqa: SIM115 (closed below)
                errs.append(err)
                cmd = [*base, *join, "--process-id", str(k)]
                if k:  # the others' rows are process 0's too: theirs go to the scratch folder
                    scratch = Path(tmp) / f"p{k}"
                    cmd += ["-o", f"{scratch}.csv", "--overwrite", "--report", f"{scratch}.md"]
                procs.append(
                    subprocess.Popen(
                        cmd, stdout=None if k == 0 else subprocess.DEVNULL, stderr=err, env=dict(os.environ)
                    )
                )
            return _wait(procs, errs)
        finally:
            for proc in procs:
                stop_child(proc)
            for err in errs:
                err.close()


def stop_child(proc: subprocess.Popen, grace_s: float = 30.0) -> None:
    """Interrupts a child ``jaxgrads`` process still running, as a Ctrl-C would: it keeps its finished
    rows and releases its output's lock (``.NAME.csv.lock``, removed on release); killed only if it
    has not stopped within ``grace_s`` (one waiting in a collective, or in an XLA compile on a loaded
    machine, may take long). Every parent that stops a child run stops it this way, never with
    SIGKILL first, which would leave the lock file. The parent's own interrupt, repeated while it
    waits (the CLI's handler raises it again until handled), does not cut the wait short."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + grace_s
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            proc.wait(timeout=max(0.01, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            break
        except KeyboardInterrupt:
            continue  # the stop this wait serves, raised again: the child is stopping already
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _wait(procs: list[subprocess.Popen], errs) -> int:
    while True:
        codes = [p.poll() for p in procs]
        failed = [k for k, c in enumerate(codes) if c not in (None, 0)]
        if failed:
            k = failed[0]
            if codes[k] == 130:
                raise KeyboardInterrupt
            errs[k].seek(0)
            lines = [ln for ln in errs[k].read().strip().splitlines() if ln.strip()]
            last = lines[-1] if lines else f"exit status {codes[k]}"
            last = last.removeprefix("jaxgrads: error: ")
            raise JaxgradsError(f"process {k} of {len(procs)} failed: {last}")
        if all(c == 0 for c in codes):
            errs[0].seek(0)  # process 0's messages, without gloo's connection notices
            sys.stderr.writelines(ln for ln in errs[0] if not ln.startswith("[Gloo]"))
            return 0
        with contextlib.suppress(subprocess.TimeoutExpired):
            procs[0].wait(timeout=0.2)
        time.sleep(0.05)
