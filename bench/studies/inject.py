"""Calibration only: extra host-side work in every call of the workload's kernels, outside the HLO.

Loaded with ``--problems-from`` after ``workload.py``. With ``JAXGRADS_INJECT_LOOPS=K`` in the
environment, every call of a ``workload`` kernel first runs K iterations of an empty Python loop: a
slowdown that the XLA program (and so XLA's flops and bytes) cannot show, as a runtime or dispatch
change would be. ``bench/studies/calibrate_instructions.py`` sizes K to a 3% instruction increase.
With ``JAXGRADS_INJECT_KERNELS`` (JSON: ``{"<case id>": K, ...}``) each named kernel of any problem
gets its own K instead: ``bench/studies/releases.py`` sizes each to 3% of that kernel's count.

It wraps :func:`jaxgrads.measure.kernels.compile_case`, where every kernel of a run is built: by the
runner (``jaxgrads.sweep.run`` imports it by name, so that binding is replaced too) and by the
callgrind children, which load this plug-in and import it from ``kernels`` when they build. The
calibration refuses a pilot whose loop added no instructions: a wrapper that no longer reaches the
build would otherwise "detect" nothing, silently.
"""

import json
import os

from jaxgrads.measure import kernels
from jaxgrads.sweep import run as runner

LOOPS = int(os.environ.get("JAXGRADS_INJECT_LOOPS", "0"))
KERNELS = json.loads(os.environ.get("JAXGRADS_INJECT_KERNELS", "{}"))
_compile_case = kernels.compile_case


def compile_case(*args, **kwargs):
    kernel = _compile_case(*args, **kwargs)
    loops = KERNELS.get(kernel.case.id, LOOPS if kernel.problem.name == "workload" else 0)
    if loops:
        call = kernel.run

        def slowed():
            for _ in range(loops):
                pass
            return call()

        object.__setattr__(kernel, "run", slowed)  # a frozen dataclass: replaced, not mutated
    return kernel


kernels.compile_case = compile_case
runner.compile_case = compile_case
