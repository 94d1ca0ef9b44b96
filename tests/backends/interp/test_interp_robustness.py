"""A bad model file never crashes the interpreter: truncated, bit-flipped, oversized, fuzzed.

Every load of a corrupted buffer must return an error code; where a flip leaves a buffer that
still validates (the checksum patched to match), invoke must stay in bounds, which the
sanitizer build of the fuzz test checks.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from edgeinfer.backends.interp import fuzz
from edgeinfer.backends.interp.format import HEADER
from edgeinfer.backends.interp.model import invoke, read_io
from edgeinfer.errors import ModelFileError, ToolchainError


@pytest.fixture(scope="module")
def seeds() -> dict[str, bytes]:
    return fuzz.seed_models()


def _run(data: bytes, ref: bytes) -> None:
    ins, outs = read_io(ref)
    x = np.zeros((1, *ins[0][0]), ins[0][1])
    invoke(data, [x], outs, arena_bytes=HEADER.unpack_from(ref)[13])


def _refix_crc(data: bytearray) -> bytes:
    data[12:16] = struct.pack("<I", zlib.crc32(bytes(data[16:])) & 0xFFFFFFFF)
    return bytes(data)


def test_valid_seeds_run(seeds) -> None:
    for data in seeds.values():
        _run(data, data)


def test_every_truncation_is_refused(seeds) -> None:
    data = seeds["gb"]
    for n in list(range(0, 80)) + list(range(80, len(data), 7)):
        with pytest.raises(ModelFileError, match="truncated|bad magic|inconsistent"):
            _run(data[:n], data)


def test_oversized_buffers_are_refused(seeds) -> None:
    data = seeds["lr"]
    with pytest.raises(ModelFileError, match="trailing bytes"):
        _run(data + b"\0" * 8, data)
    # header claiming more than the buffer holds (checksum patched so the size check is what refuses it)
    big = bytearray(data)
    big[8:12] = struct.pack("<I", len(data) + 64)
    with pytest.raises(ModelFileError, match="truncated"):
        _run(bytes(big), data)
    # huge counts / arena with a valid checksum
    for field, value in ((4, 0xFFFF), (5, 0x7FFFFFFF), (12, 0x7FFFFFF0), (13, 0xFFFFFFF0)):
        bad = bytearray(data)
        bad[4 * field:4 * field + 4] = struct.pack("<I", value)
        with pytest.raises(ModelFileError):
            _run(_refix_crc(bad), data)


def test_every_single_bit_flip_of_a_small_model(seeds) -> None:
    """Flip one bit in every byte: the checksum catches all; with the CRC re-fixed, load checks or invoke runs."""
    data = seeds["gb"]
    refused_refixed = 0
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 1 << (i % 8)
        with pytest.raises(ModelFileError):
            _run(bytes(bad), data)
        if i >= 16:
            try:
                _run(_refix_crc(bad), data)
            except ModelFileError:
                refused_refixed += 1
    assert refused_refixed > 0


def test_random_multi_byte_corruption(seeds) -> None:
    rng = np.random.default_rng(0)
    data = seeds["nn"]
    for _ in range(300):
        bad = bytearray(data)
        for pos in rng.integers(16, len(data), size=int(rng.integers(1, 8))):
            bad[pos] = int(rng.integers(0, 256))
        try:
            _run(_refix_crc(bad), data)
        except ModelFileError:
            pass


def test_short_fuzz_run_is_clean(tmp_path) -> None:
    """~20 s of libFuzzer with ASan + UBSan on load + invoke, seeded with valid models."""
    try:
        r = fuzz.run(tmp_path, seconds=20)
    except ToolchainError as e:
        pytest.skip(f"no libFuzzer here: {e}")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Done" in r.stderr
