"""scikit-learn GaussianNB -> GaussianNaiveBayes (the constant terms computed as sklearn does)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeinfer.frontends.sklearn.registry import Converted, sk_converter
from edgeinfer.ir.graph import Graph


@sk_converter("GaussianNB")
def convert_gaussian_nb(est: Any, g: Graph, x: str) -> Converted:
    """Label and ``predict_proba`` of a GaussianNB.

    >>> # from_sklearn(GaussianNB().fit(X, y))
    """
    theta = np.asarray(est.theta_, dtype=np.float64)
    var = np.asarray(est.var_, dtype=np.float64)
    # the same numpy expressions as GaussianNB._joint_log_likelihood, on the fitted arrays in their
    # own dtype (float32 when fitted on float32 data), so the same bits
    log_prior = np.array([np.log(est.class_prior_[i]) for i in range(len(theta))], dtype=np.float64)
    log_norm = np.array([-0.5 * np.sum(np.log(2.0 * np.pi * est.var_[i, :])) for i in range(len(theta))],
                        dtype=np.float64)
    ins = [x, g.add_const("gnb_theta", theta), g.add_const("gnb_var", var),
           g.add_const("gnb_log_prior", log_prior), g.add_const("gnb_log_norm", log_norm)]
    label, proba = g.fresh_name("label"), g.fresh_name("probabilities")
    g.add_node("GaussianNaiveBayes", ins, [label, proba], name="gnb")
    return Converted([label, proba], {"task": "classification", "classes": list(est.classes_), "has_proba": True})
