"""The regression gate: statistics, runs on disk, the comparison, and its rendering."""
