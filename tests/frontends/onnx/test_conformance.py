"""ONNX's own node tests, per claimed op: IR reference == ONNX expected, generated C == IR reference."""

import conformance
import pytest

CASES = {c["name"]: c for c in conformance.load_cases() if conformance.case_op(c)}


@pytest.mark.parametrize("op", conformance.OPS)
def test_node_cases_of_op(op):
    results = {n: conformance.run_case(c) for n, c in CASES.items() if conformance.case_op(c) == op}
    failed = {n: why for n, (status, why) in results.items() if status == "fail"}
    assert not failed, failed
    for n, (status, why) in results.items():
        assert status == "pass" or why, f"{n} skipped without a reason"
