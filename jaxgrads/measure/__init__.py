"""Measuring one kernel: compile it (kernels), time it (timing), read XLA's costs (xla), check it
(accuracy, tolerance, finite_diff), place it under the machine's roof (roofline, machine)."""

__all__ = []
