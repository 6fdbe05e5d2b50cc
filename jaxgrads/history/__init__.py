"""Results over commits: the history folder (``store``), measuring a commit range in worktrees
(``measure``), series per kernel, metric and machine fingerprint (``series``) and their steps
(``steps``)."""
