"""Run Darknet Inspector from a source checkout: `python main.py [ARGS]`."""

import sys

from core.cli import main

if __name__ == "__main__":
    sys.exit(main())
