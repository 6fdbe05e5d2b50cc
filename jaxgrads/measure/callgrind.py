r"""Instruction counts under Valgrind's callgrind: a cost that does not move with the machine's load.

A process started under ``valgrind --tool=callgrind --instr-atstart=no`` runs uninstrumented until
it asks for instrumentation with a *client request*: a magic no-op instruction sequence that
Valgrind's JIT recognizes (natively it does nothing and returns its default). The requests are
issued here from a few bytes of x86-64 machine code in an executable page called through ctypes,
so no compiler and no extension module is needed:

- ``START_INSTRUMENTATION`` / ``STOP_INSTRUMENTATION`` around the measured calls only (import, tracing
  and XLA compilation run at Valgrind's uninstrumented speed and are never counted);
- ``ZERO_STATS`` before the calls, ``DUMP_STATS_AT(label)`` after them: callgrind writes the events
  since the zero into a numbered dump file, whose ``totals:`` line is the instruction count ($I_r$)
  of every thread of the process over those calls.

A measurement also counts its own requests (the ctypes calls that end it: some 18-23 k
instructions), which divided by $N$ calls would make a count per call move with $N$. So each process
counts an *empty* measurement (zero calls; the median of five, once warm) and every count is net of
it: $I = (c_N - c_0) / N$. What is left is the overhead's own spread from one measurement to the next
(~1-2 k instructions): 0.1% of a count of 2 M instructions, which is why a count aims at
``target`` instructions over its N calls.

What a count depends on, so what must match for two counts to be compared: the binary code run
(jax and jaxlib versions, the XLA flags below), the Valgrind version, and the CPU the guest sees.
Valgrind presents its own CPUID to the guest: on x86-64 hosts with AVX2 (AMD and Intel alike) it is
a Haswell ("Intel Core i7-4910MQ"); it cannot decode AVX-512, so XLA under it emits AVX2 code even
on an AVX-512 machine. :func:`guest_isa` reads that CPUID from inside the process, which is why a
count recorded on one machine type may hold on another, which wall time never does.

The process is made deterministic the way the counts need: XLA's CPU runtime single-threaded and
its dispatch synchronous (:data:`CHILD_XLA_FLAGS`, set before JAX starts), the garbage collector off
during the calls.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import math
import mmap
import os
import platform
import re
import shutil
import statistics
import subprocess
from collections.abc import Callable
from pathlib import Path

from jaxgrads.errors import JaxgradsError

__all__ = [
    "CHILD_XLA_FLAGS",
    "Callgrind",
    "callgrind_command",
    "guest_isa",
    "isa_class",
    "read_totals",
    "running_on_valgrind",
    "unavailable",
    "valgrind_version",
]

# XLA's CPU runtime on one thread: Eigen's thread pool and intra-op parallelism would interleave
# threads differently from one process to the next (and callgrind counts every thread)
CHILD_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

_TOOL_BASE = (ord("C") << 24) | (ord("T") << 16)  # VG_USERREQ_TOOL_BASE('C','T'), callgrind.h
DUMP_STATS, ZERO_STATS, TOGGLE_COLLECT, DUMP_STATS_AT, START_INSTRUMENTATION, STOP_INSTRUMENTATION = (
    _TOOL_BASE + i for i in range(6)
)
RUNNING_ON_VALGRIND = 0x1001  # valgrind.h

# long request(unsigned long args[6], long default): valgrind.h's amd64 client-request preamble
#   mov rax, rdi; mov rdx, rsi; rol rdi,3; rol rdi,13; rol rdi,61; rol rdi,51; xchg rbx,rbx;
#   mov rax, rdx; ret          (the four rotations add up to 128 bits: rdi is unchanged natively)
_REQUEST = "4889f8 4889f2 48c1c703 48c1c70d 48c1c73d 48c1c733 4887db 4889d0 c3"
# void cpuid(unsigned leaf, unsigned subleaf, unsigned out[4])
#   push rbx; mov r8, rdx; mov eax, edi; mov ecx, esi; cpuid;
#   mov [r8], eax; mov [r8+4], ebx; mov [r8+8], ecx; mov [r8+12], edx; pop rbx; ret
_CPUID = "53 4989d0 89f8 89f1 0fa2 418900 41895804 41894808 4189500c 5b c3"


def unavailable() -> str | None:
    """Why instruction counts cannot be taken here (one line), or None when they can."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return f"instruction counts need an x86-64 CPU (this one is {platform.machine()})"
    if shutil.which("valgrind") is None:
        return "valgrind is not installed (Debian/Ubuntu: apt-get install valgrind)"
    return None


@functools.cache
def valgrind_version() -> str:
    """``3.19.0`` for ``valgrind-3.19.0``; a one-line error when valgrind cannot run."""
    try:
        out = subprocess.run(["valgrind", "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise JaxgradsError(f"valgrind --version failed: {exc}") from None
    return out.strip().removeprefix("valgrind-")


def callgrind_command(out_dir: Path) -> list[str]:
    """The ``valgrind`` prefix of a child whose instrumentation the child switches on itself."""
    return [
        "valgrind", "--tool=callgrind", "--instr-atstart=no", "--dump-instr=no", "--dump-line=no",
        f"--callgrind-out-file={out_dir}/callgrind.out.%p", "--quiet",
    ]  # fmt: skip


@functools.cache
def _machine_code(hex_bytes: str, restype, *argtypes):
    code = bytes.fromhex(hex_bytes.replace(" ", ""))
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    fn = ctypes.CFUNCTYPE(restype, *argtypes)(address)
    fn.page = page  # keeps the page mapped as long as the function lives
    return fn


def _request(code: int, arg: int = 0, default: int = 0) -> int:
    fn = _machine_code(_REQUEST, ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong), ctypes.c_ulong)
    return fn((ctypes.c_ulong * 6)(code, arg, 0, 0, 0, 0), default)


def running_on_valgrind() -> bool:
    """Whether this process runs under Valgrind (natively the request returns its default, 0)."""
    return platform.machine().lower() in ("x86_64", "amd64") and _request(RUNNING_ON_VALGRIND) > 0


def _cpuid(leaf: int, subleaf: int = 0) -> tuple[int, int, int, int]:
    fn = _machine_code(_CPUID, None, ctypes.c_uint, ctypes.c_uint, ctypes.POINTER(ctypes.c_uint))
    out = (ctypes.c_uint * 4)()
    fn(leaf, subleaf, out)
    return tuple(out)


def isa_class(features: set[str]) -> str:
    """The x86-64 micro-architecture level (psABI): ``x86-64-v4`` (AVX-512) down to ``x86-64-v1``."""
    levels = (
        ("x86-64-v4", {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}),
        ("x86-64-v3", {"avx", "avx2", "bmi1", "bmi2", "fma", "movbe"}),
        ("x86-64-v2", {"sse4_2", "popcnt", "ssse3"}),
    )
    for name, needs in levels:
        if needs <= features and (name == "x86-64-v2" or "sse4_2" in features):
            return name
    return "x86-64-v1"


def guest_isa() -> str:
    """The CPU this process sees through CPUID (under Valgrind: Valgrind's own): its ISA level and
    brand, e.g. ``x86-64-v3 Intel(R) Core(TM) i7-4910MQ CPU @ 2.90GHz``."""
    _, _, c1, _ = _cpuid(1)
    _, b7, _, _ = _cpuid(7)
    bits = {"ssse3": (c1, 9), "fma": (c1, 12), "movbe": (c1, 22), "sse4_2": (c1, 20),
            "popcnt": (c1, 23), "avx": (c1, 28), "bmi1": (b7, 3), "avx2": (b7, 5), "bmi2": (b7, 8),
            "avx512f": (b7, 16), "avx512dq": (b7, 17), "avx512cd": (b7, 28), "avx512bw": (b7, 30),
            "avx512vl": (b7, 31)}  # fmt: skip
    features = {name for name, (reg, bit) in bits.items() if reg >> bit & 1}
    brand = b"".join(
        v.to_bytes(4, "little") for leaf in (0x80000002, 0x80000003, 0x80000004) for v in _cpuid(leaf)
    )
    name = brand.rstrip(b"\0").decode("ascii", "replace").strip()
    return f"{isa_class(features)} {name}"


def read_totals(path: Path) -> int:
    """The instruction count of one callgrind dump: its ``totals:`` (or ``summary:``) line."""
    text = path.read_text(errors="replace")
    match = re.search(r"^totals:\s*(\d+)", text, re.M) or re.search(r"^summary:\s*(\d+)", text, re.M)
    if match is None:
        raise JaxgradsError(f"{path}: no totals line (not a callgrind dump?)")
    return int(match.group(1))


EMPTY_WARMUP, EMPTY_COUNTS = 3, 5  # empty measurements not kept, then kept (their median)


def _nothing() -> None:
    """What an empty measurement calls: nothing (its loop runs zero times)."""


class Callgrind:
    """Counts the instructions of calls in this process, which must run under callgrind with
    ``--callgrind-out-file=OUT_DIR/callgrind.out.%p`` (:func:`callgrind_command`)."""

    def __init__(self, out_dir: Path):
        if not running_on_valgrind():
            raise JaxgradsError("instruction counts need the process to run under valgrind --tool=callgrind")
        self.out_dir = Path(out_dir)
        self._dumps = 0
        self._empty: int | None = None

    @property
    def empty(self) -> int | None:
        """The instructions of a measurement of zero calls in this process (None until the first
        count): what every count is net of."""
        return self._empty

    def _measure_empty(self) -> int:
        """The median of five empty measurements, after three not kept: the first ones of a process
        count up to 25% more (ctypes' and the interpreter's first-call work), the later ones agree
        within ~2% (18.5-18.9 k instructions here)."""
        if self._empty is None:
            for _ in range(EMPTY_WARMUP):
                self._counted(_nothing, 0, "empty")
            counts = [self._counted(_nothing, 0, "empty") for _ in range(EMPTY_COUNTS)]
            self._empty = int(statistics.median(counts))
        return self._empty

    def count(self, fn: Callable[[], object], label: str, target: float, max_calls: int) -> tuple[int, int]:
        r"""(instructions, calls): ``fn`` called (each call waiting for its result) until about
        ``target`` instructions are counted, at most ``max_calls`` times; the instructions are net
        of the empty measurement (:attr:`empty`), so ``instructions / calls`` does not move with N.

        After one instrumented warm-up call (not counted), one call is counted ($c_1$); then
        $N = \mathrm{clip}(\lceil target / c_1 \rceil, 1, max\_calls)$ calls are counted together,
        unless $N = 1$. ``target`` 0 counts ``max_calls`` calls at once.
        """
        import jax

        was_enabled = gc.isenabled()
        gc.disable()
        _request(START_INSTRUMENTATION)
        try:
            empty = self._measure_empty()
            jax.block_until_ready(fn())
            calls = max_calls
            if target > 0:
                c1 = max(0, self._counted(fn, 1, label) - empty)
                calls = int(min(max_calls, max(1, math.ceil(target / max(c1, 1)))))
                if calls == 1:
                    return c1, 1
            return max(0, self._counted(fn, calls, label) - empty), calls
        finally:
            _request(STOP_INSTRUMENTATION)
            if was_enabled:
                gc.enable()

    def _counted(self, fn: Callable[[], object], calls: int, label: str) -> int:
        import jax

        label_buf = ctypes.create_string_buffer(label.encode()[:200])
        _request(ZERO_STATS)
        for _ in range(calls):
            jax.block_until_ready(fn())
        _request(DUMP_STATS_AT, ctypes.addressof(label_buf))
        self._dumps += 1
        dump = self.out_dir / f"callgrind.out.{os.getpid()}.{self._dumps}"
        try:
            return read_totals(dump)
        finally:
            dump.unlink(missing_ok=True)
