"""``python -m edgeinfer`` is the ``edgeinfer`` command."""

import sys

from edgeinfer.cli import main

sys.exit(main())
