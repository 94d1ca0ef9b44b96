"""ONNX's own node tests, per claimed op: IR reference == ONNX expected, generated C == IR reference; every case
inside the claim passes (the rest are refused by name, see conformance.NARROWED)."""

import conformance
import pytest

CASES = {c["name"]: c for c in conformance.load_cases() if conformance.case_op(c)}


@pytest.mark.parametrize("op", conformance.OPS)
def test_node_cases_of_op(op):
    results = {n: conformance.run_case(c) for n, c in CASES.items() if conformance.case_op(c) == op}
    # inside the claim every case passes; a refusal counts only when it names a documented narrowing
    broken = {n: f"{status}: {why}" for n, (status, why) in results.items()
              if status != "pass" and not (status == "skip" and conformance.narrowed(why))}
    assert not broken, broken
