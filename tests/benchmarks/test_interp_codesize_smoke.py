"""The call-graph walker of benchmarks/interp_codesize.py on programs whose reachable set is known by hand.

The benchmark's TFLM figure is only as good as this walk: direct calls, tail jumps, functions whose
address is taken through a table (how TFLM's Register_* and resolvers hand out kernels), GOT loads,
and nothing unreachable counted.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "interp_codesize.py"

CHAIN = """
__attribute__((noinline)) int g(int x) { return x * 3 + 1; }
__attribute__((noinline)) int f(int x) { return g(x) + 2; }
__attribute__((noinline)) int h(int x) { return x - 7; }
int main(int argc, char **argv) { (void)argv; return f(argc); }
"""

# k is reached only through the registration table, as a kernel's Eval through TFLMRegistration
TABLE = """
typedef int (*fn_t)(int);
struct reg { int code; fn_t eval; };
static int k(int x) { return x + 5; }
int h(int x) { return x - 7; }
extern const struct reg table[2];
const struct reg table[2] = {{1, k}, {2, k}};
int api(int code, int x)
{
  for (int i = 0; i < 2; i++)
    if (table[i].code == code) return table[i].eval(x);
  return 0;
}
"""


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("interp_codesize_bench", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses resolve their module by name
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def ic() -> ModuleType:
    for tool in ("gcc", "objdump", "readelf", "c++filt"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found: the walker needs gcc and binutils")
    return _load()


def _build(tmp: Path, src: str, out: str, *flags: str) -> Path:
    (tmp / "p.c").write_text(src)
    subprocess.run(["gcc", "-O1", *flags, "-o", out, "p.c"], cwd=tmp, check=True, capture_output=True)
    return tmp / out


def _nm_sizes(path: Path) -> dict[str, int]:
    """Symbol sizes as nm reports them: an answer independent of the walker's readelf parsing."""
    out = subprocess.run(["nm", "-S", "--defined-only", str(path)], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        p = line.split()
        if len(p) == 4:
            sizes[p[3]] = int(p[1], 16)
    return sizes


def test_chain_counts_exactly_main_f_g(ic: ModuleType, tmp_path: Path) -> None:
    exe = _build(tmp_path, CHAIN, "chain", "-fPIE", "-pie")
    cg = ic.CallGraph(exe)
    reach = cg.reachable(["main"])
    assert {cg.syms[a].name for a in reach} == {"main", "f", "g"}
    sizes = _nm_sizes(exe)
    assert cg.code_bytes(reach) == sizes["main"] + sizes["f"] + sizes["g"]
    assert cg.syms[cg.by_name["h"]].addr not in reach


def test_address_taken_through_a_table(ic: ModuleType, tmp_path: Path) -> None:
    lib = _build(tmp_path, TABLE, "libt.so", "-fPIC", "-shared")
    cg = ic.CallGraph(lib)
    reach = cg.reachable(["api"])
    assert {cg.syms[a].name for a in reach} == {"api", "table", "k"}
    sizes = _nm_sizes(lib)
    assert cg.code_bytes(reach) == sizes["api"] + sizes["k"]
    assert cg.data_bytes(reach) == sizes["table"] == 2 * 16
    # a root that is not there is an error naming it, not an empty count
    with pytest.raises(ic.CodeSizeError, match="nope"):
        cg.reachable(["nope"])


def test_stripped_binary_is_refused_with_the_reason(ic: ModuleType, tmp_path: Path) -> None:
    exe = _build(tmp_path, CHAIN, "chain", "-fPIE", "-pie", "-s")
    with pytest.raises(ic.CodeSizeError, match="stripped"):
        ic.CallGraph(exe)


def test_tflm_conv_registration_reaches_its_kernel(ic: ModuleType) -> None:
    """Register_CONV_2D() hands out ConvInit/ConvPrepare/ConvEval by address (TFLM's conv.cc): all reached."""
    try:
        so = ic.tflm_so()
    except ic.CodeSizeError as e:
        pytest.skip(str(e))
    cg = ic.CallGraph(so)
    roots = cg.find(r"Register_CONV_2D\(\)$")
    assert roots, "Register_CONV_2D() not in the wheel"
    names = {n for a in cg.reachable(roots) for n in cg.syms[a].demangled}
    for fn in ("ConvInit(", "ConvPrepare(", "ConvEval("):
        assert any(fn in n for n in names), fn
    assert not any(ic.BINDING.search(n) for n in names)
