"""Run Darknet Inspector from a source checkout: `python main.py [ARGS]`."""

import sys

from darknet_inspector.launcher import main

if __name__ == "__main__":
    sys.exit(main())
