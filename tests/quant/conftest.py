"""One session fixture builds (or loads from the cache) every TensorFlow-quantized test model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def tflite_models():
    tf = pytest.importorskip("tensorflow", reason="TensorFlow (tensorflow-cpu) is not installed: "
                             "pip install 'edgeinfer[tflite]' to build the int8 test models")
    import tflite_models as tm

    return tm.build_all(tf)
