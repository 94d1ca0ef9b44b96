"""Shared test settings: build caches go to a per-run temporary folder unless one is set."""

import os
import tempfile

os.environ.setdefault("EDGEINFER_CACHE", os.path.join(tempfile.gettempdir(), "edgeinfer-test-cache"))
