"""edgeinfer: trained models -> verified, measured inference on embedded targets.

>>> import edgeinfer
>>> # m = edgeinfer.convert(fitted_estimator, name="gesture"); m.predict(X); m.save("out/")
"""

from edgeinfer.api import compare, convert, load_graph, quantize
from edgeinfer.errors import EdgeInferError, GraphError, InputError, ModelFileError, UnsupportedModelError

__version__ = "0.1.0"

__all__ = ["EdgeInferError", "GraphError", "InputError", "ModelFileError",
           "UnsupportedModelError", "compare", "convert", "load_graph", "quantize", "__version__"]
