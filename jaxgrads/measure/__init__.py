"""Measuring one kernel: decide its case (case), compile it (compile, kernels), time it (timing),
read XLA's costs (xla), check it (accuracy, tolerance, finite_diff), place it under the machine's roof
(roofline, caches, machine).

Importing the measure layer registers every method it can run: the JAX families
(:mod:`jaxgrads.methods`) and then the peers (:mod:`jaxgrads.peers`), which listings show in that order.
"""

import jaxgrads.peers  # noqa: F401  (the peers register their methods after the JAX families)

__all__ = []
