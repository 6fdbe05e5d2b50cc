"""Running many cases: what to run (config), the cases and their memory (plan), measuring and writing
them (run), and sweeps in child processes: A/B, baselines, confirmation (processes)."""
