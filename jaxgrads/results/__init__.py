"""What a sweep leaves behind: the CSV schema (schema), files that survive faults (files), the labels
and tables every reader prints (labels), and pytest-benchmark JSON converted to results."""

__all__ = []
