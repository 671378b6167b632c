"""`python -m darknet_inspector [ARGS]`: the same as the `darknet-inspector` command."""

import sys

from darknet_inspector.launcher import main

sys.exit(main())
