"""`python -m crossrank.cli`: the console script."""

import sys

from crossrank.cli import main

sys.exit(main())
