"""scikit-learn kernel SVMs (SVC, NuSVC, SVR, NuSVR) -> SVMClassifier / SVMRegressor.

The converter reads libsvm's own model (``_dual_coef_``, ``_intercept_``, the support
vectors grouped by class) rather than the sign-flipped public attributes, so the op
replays exactly the vote libsvm casts; see ``ir/ops/svm.py`` and the C emitter's
docstring for how labels stay exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeinfer.errors import UnsupportedModelError
from edgeinfer.frontends.sklearn.registry import Converted, sk_converter
from edgeinfer.ir.graph import Graph

_KERNELS = {"linear": "LINEAR", "poly": "POLY", "rbf": "RBF", "sigmoid": "SIGMOID"}


def _kernel_attrs(est: Any) -> dict[str, Any]:
    kernel = est.kernel
    if not isinstance(kernel, str) or kernel not in _KERNELS:
        raise UnsupportedModelError(
            f"{type(est).__name__} with kernel={kernel!r} is not supported; use one of "
            f"{', '.join(_KERNELS)} (a precomputed or callable kernel has no fixed C form)")
    if getattr(est, "_sparse", False):
        raise UnsupportedModelError(
            f"{type(est).__name__} was fitted on a sparse matrix (libsvm's sparse kernels round "
            "differently); refit it on a dense array, e.g. X.toarray()")
    return {"kernel_type": _KERNELS[kernel], "gamma": float(est._gamma), "coef0": float(est.coef0),
            "degree": int(est.degree)}


def _consts(est: Any, g: Graph, prefix: str) -> tuple[str, str, str]:
    sv = np.asarray(est.support_vectors_, dtype=np.float64)
    coef = np.asarray(est._dual_coef_, dtype=np.float64)
    rho = -np.asarray(est._intercept_, dtype=np.float64)  # libsvm: dec = sum - rho
    return (g.add_const(f"{prefix}_support_vectors", sv), g.add_const(f"{prefix}_coefficients", coef),
            g.add_const(f"{prefix}_rho", rho))


@sk_converter("SVC", "NuSVC")
def convert_svc(est: Any, g: Graph, x: str) -> Converted:
    """SVC/NuSVC: label index by libsvm's one-vs-one vote, scores = ``decision_function``.

    >>> # from_sklearn(SVC(gamma=0.01).fit(X, y))
    """
    attrs = _kernel_attrs(est)
    classes = list(est.classes_)
    shape = est.decision_function_shape
    if est.break_ties and shape == "ovo":
        raise UnsupportedModelError("break_ties=True needs decision_function_shape='ovr' "
                                    "(scikit-learn refuses to predict otherwise too)")
    sv, coef, rho = _consts(est, g, "svc")
    counts = [int(c) for c in est._n_support]
    label, scores = g.fresh_name("label"), g.fresh_name("scores")
    g.add_node("SVMClassifier", [x, sv, coef, rho], [label, scores], name="svc",
               vectors_per_class=counts, decision_shape=shape,
               break_ties=int(bool(est.break_ties) and len(classes) > 2), **attrs)
    return Converted([label, scores], {"task": "classification", "classes": classes, "has_proba": False,
                                       "scores": "decision_function"})


@sk_converter("SVR", "NuSVR")
def convert_svr(est: Any, g: Graph, x: str) -> Converted:
    """SVR/NuSVR: ``sum(dual_coef * kernel) + intercept``.

    >>> # from_sklearn(SVR().fit(X, y))
    """
    attrs = _kernel_attrs(est)
    sv, coef, rho = _consts(est, g, "svr")
    y = g.fresh_name("value")
    g.add_node("SVMRegressor", [x, sv, coef, rho], [y], name="svr", **attrs)
    return Converted([y], {"task": "regression"})
