"""`python -m mobilevision.cli ...`, as the `mobilevision` console script."""

import sys

from mobilevision.cli.main import main

sys.exit(main())
