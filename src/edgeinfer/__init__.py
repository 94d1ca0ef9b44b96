"""edgeinfer: trained models -> verified, measured inference on embedded targets.

>>> import edgeinfer
>>> # m = edgeinfer.convert(fitted_estimator, name="gesture"); m.predict(X); m.save("out/")
"""

from edgeinfer.api import convert, load_graph
from edgeinfer.errors import EdgeInferError, GraphError, InputError, ModelFileError, UnsupportedModelError

__version__ = "0.1.0"

__all__ = ["EdgeInferError", "GraphError", "InputError", "ModelFileError",
           "UnsupportedModelError", "convert", "load_graph", "__version__"]
