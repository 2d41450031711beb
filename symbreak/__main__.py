"""`python -m symbreak` runs the command line."""

import sys

from symbreak.cli import main

sys.exit(main())
