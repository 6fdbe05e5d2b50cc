"""Calibration only: extra host-side work in every call of the workload's kernels, outside the HLO.

Loaded with ``--problems-from`` after ``workload.py``. With ``JAXGRADS_INJECT_LOOPS=K`` in the
environment, every call of a ``workload`` kernel first runs K iterations of an empty Python loop: a
slowdown that the XLA program (and so XLA's flops and bytes) cannot show, as a runtime or dispatch
change would be. ``bench/studies/calibrate_instructions.py`` sizes K to a 3% instruction increase.
"""

import os

from jaxgrads.measure import kernels
from jaxgrads.sweep import run as runner

LOOPS = int(os.environ.get("JAXGRADS_INJECT_LOOPS", "0"))
_build = kernels.build_kernel


def build_kernel(*args, **kwargs):
    kernel = _build(*args, **kwargs)
    if LOOPS and kernel.problem.name == "workload":
        call = kernel.run

        def slowed():
            for _ in range(LOOPS):
                pass
            return call()

        object.__setattr__(kernel, "run", slowed)  # a frozen dataclass: replaced, not mutated
    return kernel


kernels.build_kernel = build_kernel
runner.build_kernel = build_kernel
