"""docs/columns.md's table: every column of a results CSV, from ``jaxgrads/results/columns.py``.

    .venv/bin/python bench/studies/columns.py [--no-readme]

The tests check that the page's block is this script's output, so the page cannot drift from the schema.
"""

from __future__ import annotations

import sys

from figures import publish

from jaxgrads.results.columns import columns_markdown

if __name__ == "__main__":
    publish("columns", columns_markdown(), readme="--no-readme" not in sys.argv[1:])
