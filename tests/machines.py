"""Other machines for tests: fingerprints that cannot be this one, cache layouts this one lacks.

A test never names a real CPU model as "another machine": on a machine of that model it is this one.
The synthetic layouts are the ones the suite is also run under as a whole (``make test-machines``:
``JAXGRADS_CPU_MODEL`` and ``JAXGRADS_CACHES`` override what ``jaxgrads.measure.machine`` reads).
"""

import pandas as pd

# cache layouts the planner and the floor are tested on, whatever this machine reports: a server
# with a 32 MiB L3, a VM whose sysfs claims a 480 MiB L3, a machine that reports no L3
CACHE_LAYOUTS = {
    "l3-32m": {"L1": 32 * 2**10, "L2": 512 * 2**10, "L3": 32 * 2**20},
    "l3-480m": {"L1": 48 * 2**10, "L2": 2 * 2**20, "L3": 480 * 2**20},
    "no-l3": {"L1": 64 * 2**10, "L2": 4 * 2**20},
}


def another_cpu_model(rows: pd.DataFrame) -> pd.Series:
    """A CPU model that differs from every row's own: its own name, marked as another machine."""
    return rows["cpu_model"].astype(str) + " (another machine)"
