"""scikit-learn frontend: a fitted estimator or Pipeline -> ir.Graph.

Each estimator family has its own module registering converters (see ``registry``);
this module validates the estimator, chains pipelines and sets the graph metadata.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from edgeinfer.errors import NotFittedError, UnsupportedModelError
from edgeinfer.frontends.sklearn.registry import CONVERTERS, TRANSFORMERS, Converted, sk_converter
from edgeinfer.ir.graph import Graph

__all__ = ["Converted", "from_sklearn", "sk_converter", "supported_estimators"]


def _load() -> None:
    for m in pkgutil.iter_modules(__path__):
        if m.name != "registry":
            importlib.import_module(f"{__name__}.{m.name}")


def supported_estimators() -> list[str]:
    _load()
    return sorted(CONVERTERS)


def _check_fitted(est: Any) -> None:
    from sklearn.exceptions import NotFittedError as SkNotFitted
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(est)
    except SkNotFitted:
        raise NotFittedError(f"{type(est).__name__} is not fitted; call .fit(X, y) before converting it") from None
    except TypeError:
        pass


def _converter(est: Any):
    _load()
    cls = type(est).__name__
    fn = CONVERTERS.get(cls)
    if fn is None:
        raise UnsupportedModelError(
            f"{cls} is not supported by the scikit-learn frontend. Supported estimators: "
            f"{', '.join(supported_estimators())}, and Pipelines of "
            f"{', '.join(sorted(TRANSFORMERS))} in front of any of them.")
    return fn


def from_sklearn(est: Any, name: str | None = None) -> Graph:
    """Convert a fitted estimator (or Pipeline) to a Graph with input ``x`` (None, n_features).

    >>> # g = from_sklearn(RandomForestClassifier().fit(X, y)); ir.run(g, X)
    """
    steps = [s for _, s in est.steps] if type(est).__name__ == "Pipeline" else [est]
    steps = [s for s in steps if s is not None and s != "passthrough"]
    if not steps:
        raise UnsupportedModelError("the Pipeline has no estimator")
    for s in steps:
        _check_fitted(s)
    n_features = getattr(steps[0], "n_features_in_", None)
    if n_features is None:
        raise UnsupportedModelError(f"{type(steps[0]).__name__} does not say how many features it takes")
    g = Graph(name or type(steps[-1]).__name__)
    g.add_input("x", (None, int(n_features)), "float32")
    x = "x"
    for s in steps[:-1]:
        if type(s).__name__ not in TRANSFORMERS and type(s).__name__ in CONVERTERS:
            raise UnsupportedModelError(f"{type(s).__name__} can only be the last step of a Pipeline")
        res = _converter(s)(s, g, x)
        x = res.outputs[0]
    res = _converter(steps[-1])(steps[-1], g, x)
    g.outputs = list(res.outputs)
    g.metadata.update(res.metadata)
    g.metadata.setdefault("estimator", type(steps[-1]).__name__)
    g.metadata["source"] = "scikit-learn"
    g.validate()
    return g
