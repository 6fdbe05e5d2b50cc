"""Compiling the next kernels on every core while nothing is being timed.

XLA releases the GIL while it compiles (tracing and lowering hold it), so a pool of ``jobs``
threads compiles a batch of cases at once; then each kernel is warmed up, timed and checked alone,
the pool idle, and released once its row is written (every live XLA:CPU executable holds its own
memory mappings: a run that kept them all could reach ``vm.max_map_count``). A batch is
``BATCH_PER_JOB`` cases per job, so what is compiled ahead (executables and device inputs) is
bounded by the batch.

Only the kinds that compile ahead of time through JAX alone go to the pool (:data:`POOLED_KINDS`);
a colored method, whose pattern is prepared by code that may change process-wide state (asdex sets
warning filters, which are not per thread), a mesh method, whose processes compile in step, and a
peer, which compiles its own way, compile when their turn comes, as every case does with
``jobs = 1``. A problem's function is traced in a worker thread: JAX's tracing is thread-safe, and a
function whose tracing changes process-wide state runs as it should with ``--jobs 1``. A pooled
kernel's ``compile_s`` is its own compile measured in its worker, while up to ``jobs - 1`` others
compiled beside it: the row says how many in ``compile_jobs``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext

import jax

from jaxgrads.measure.case import Case
from jaxgrads.measure.kernels import Kernel

__all__ = ["BATCH_PER_JOB", "POOLED_KINDS", "CompilePool", "resolve_jobs"]

BATCH_PER_JOB = 4  # cases compiled ahead per worker: enough to even out the workers' loads
# the kinds whose build is JAX's tracing and XLA's compile alone; a pattern's preparation runs code
# (a sparsity detector) that may set process-wide state such as warning filters, so it builds in turn
POOLED_KINDS = frozenset({"jit", "loop"})


def resolve_jobs(jobs: int | None) -> int:
    """The workers a run compiles with: ``jobs``, or the CPUs the process may use; 1 in a run of
    several processes (their kernels compile in step)."""
    from jaxgrads.measure.machine import cpus_used

    if jax.process_count() > 1:
        return 1
    return jobs if jobs is not None else cpus_used()


class CompilePool:
    """Compiles batches of cases ahead in ``jobs`` threads; ``jobs = 1`` compiles nothing ahead.

    Args:
      jobs: the workers.
      runs: whether a case is compiled at all (a case skipped before compiling is not).
      prepare: the main thread's share of a case (its host inputs), done before submitting it.
      compile: the worker's share: the host inputs -> the :class:`Kernel`.
      waiting: entered while the main thread waits for a batch (the run's compile phase).
    """

    def __init__(
        self,
        jobs: int,
        runs: Callable[[Case], bool],
        prepare: Callable[[Case], object],
        compile: Callable[[Case, object], Kernel],
        waiting: Callable[[], AbstractContextManager] = nullcontext,
    ):
        self.jobs = jobs
        self._runs, self._prepare, self._compile, self._waiting = runs, prepare, compile, waiting
        self._pool = ThreadPoolExecutor(jobs, thread_name_prefix="jaxgrads-compile") if jobs > 1 else None

    def batches(self, todo: Sequence[Case]) -> Iterator[tuple[Case, Future | None]]:
        """Each case of ``todo`` in order, with the future of its kernel where it was compiled ahead
        (None: it compiles when its turn comes). A batch is submitted once the last one is timed."""
        size = self.jobs * BATCH_PER_JOB if self._pool else max(len(todo), 1)
        for start in range(0, len(todo), size):
            batch = todo[start : start + size]
            ahead = {id(case): self._submit(case) for case in batch if self._pooled(case)}
            with self._waiting():  # the batch compiled before any of it is timed: a quiet machine
                wait(ahead.values())
            for case in batch:
                yield case, ahead.pop(id(case), None)

    def _pooled(self, case: Case) -> bool:
        return self._pool is not None and case.method.kind in POOLED_KINDS and self._runs(case)

    def _submit(self, case: Case) -> Future:
        try:
            host = self._prepare(case)
        except Exception as exc:  # noqa: BLE001 - the case's own row says it
            failed: Future = Future()
            failed.set_exception(exc)
            return failed
        return self._pool.submit(self._compile, case, host)

    def close(self) -> None:
        """Cancels what has not started; a compile under way finishes in its thread."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

