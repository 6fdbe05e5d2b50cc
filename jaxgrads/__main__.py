"""``python -m jaxgrads``: the same entry point as the ``jaxgrads`` console script."""

import sys

from jaxgrads.cli.main import main

sys.exit(main())
