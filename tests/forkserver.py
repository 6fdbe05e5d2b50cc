"""An interpreter with jaxgrads' CLI imported, forked once per command: each command a process of its
own (its exit code, its streams, its signals, its atexit handlers), without paying JAX's import
(2-3 s here) every time. Reads one JSON request per line on stdin (argv, cwd, timeout), answers one
JSON line (rc, stdout, stderr) on the stdout it was given. Started by ``clitools``.

JAX is imported, never initialized, before the fork: no backend, no thread (checked at start), so the
child starts as a fresh ``python -m jaxgrads`` would after its imports.
"""

import atexit
import json
import os
import signal
import sys
import tempfile
import threading
import time
import traceback

import jaxgrads.cli.main as cli
import jaxgrads.sweep.run  # noqa: F401  what `jaxgrads run` imports once it runs

assert threading.active_count() == 1, "a thread before the fork: fork is not safe here"


def _child(argv, cwd, out, err) -> None:
    os.setsid()  # its own group: a timeout kills it and its children
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    code = 1
    try:
        if cwd:
            os.chdir(cwd)
        sys.argv = ["jaxgrads", *argv]
        cli.entry()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, int | None):
            print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(reply) -> None:
    for line in sys.stdin:
        req = json.loads(line)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            pid = os.fork()
            if pid == 0:
                _child(req["argv"], req.get("cwd"), out.fileno(), err.fileno())
            deadline = time.monotonic() + req.get("timeout", 300)
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    rc = os.waitstatus_to_exitcode(status)
                    break
                if time.monotonic() > deadline:
                    os.killpg(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    rc = -signal.SIGKILL
                    break
                time.sleep(0.005)
            texts = []
            for f in (out, err):
                f.seek(0)
                texts.append(f.read().decode(errors="replace"))
        reply.write(json.dumps({"rc": rc, "stdout": texts[0], "stderr": texts[1]}) + "\n")
        reply.flush()


if __name__ == "__main__":
    # answers go to a duplicate of stdout; fd 1 and 2 are left for the children to replace
    serve(os.fdopen(os.dup(1), "w"))
