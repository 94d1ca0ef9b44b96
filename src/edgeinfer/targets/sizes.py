"""Flash and RAM of a linked ELF: totals, per symbol, the model's own share, and the fit check.

Flash holds everything loaded (code, constants, the initial values of ``.data``); RAM holds
``.data``, ``.bss`` and the reserved stack. The model's own share comes from the linker
map (input sections by object file), so the harness and start-up code do not count
against the model.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from edgeinfer.errors import ToolchainError

SHF_WRITE, SHF_ALLOC = 0x1, 0x2


def _elffile(path: Path) -> Any:
    try:
        from elftools.elf.elffile import ELFFile
    except ImportError:
        raise ToolchainError("reading ELF sizes needs pyelftools: pip install 'edgeinfer[targets]'") from None
    return ELFFile


def section_regions(elf_path: Path) -> tuple[dict[str, dict[str, int]], dict[int, str]]:
    """Per allocated section: size and which memories it occupies; section index -> region."""
    ELFFile = _elffile(elf_path)
    out: dict[str, dict[str, int]] = {}
    by_index: dict[int, str] = {}
    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        for i, s in enumerate(elf.iter_sections()):
            flags = s["sh_flags"]
            if not flags & SHF_ALLOC or s["sh_size"] == 0:
                continue
            nobits = s["sh_type"] == "SHT_NOBITS"
            writable = bool(flags & SHF_WRITE)
            flash = 0 if nobits else s["sh_size"]
            ram = s["sh_size"] if writable else 0
            out[s.name] = {"flash": flash, "ram": ram}
            by_index[i] = "ram" if writable and nobits else ("flash+ram" if writable else "flash")
    return out, by_index


def symbol_sizes(elf_path: Path) -> list[dict[str, Any]]:
    """Functions and objects with a size, biggest first: name, size, region, section."""
    ELFFile = _elffile(elf_path)
    _, by_index = section_regions(elf_path)
    syms: dict[str, dict[str, Any]] = {}
    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        tab = elf.get_section_by_name(".symtab")
        if tab is None:
            return []
        names = {i: s.name for i, s in enumerate(elf.iter_sections())}
        for s in tab.iter_symbols():
            if s["st_info"]["type"] not in ("STT_FUNC", "STT_OBJECT") or s["st_size"] == 0 or not s.name:
                continue
            idx = s["st_shndx"]
            if not isinstance(idx, int) or idx not in by_index:
                continue
            syms.setdefault(s.name, {"name": s.name, "size": int(s["st_size"]), "region": by_index[idx],
                                     "section": names[idx]})
    return sorted(syms.values(), key=lambda d: (-d["size"], d["name"]))


_MAP_LINE = re.compile(r"^ (\.[^\s]+|COMMON)\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S+)$", re.M)


def map_object_sizes(map_path: Path, objects: set[str]) -> dict[str, int]:
    """Flash and RAM contributed by the named object files, from a GNU ld map file."""
    text = map_path.read_text(errors="replace")
    start = text.find("Linker script and memory map")
    text = text[start:] if start >= 0 else text
    # ld wraps long input-section names onto their own line; join them back
    text = re.sub(r"^ (\.[^\s]+)\n\s+0x", r" \1 0x", text, flags=re.M)
    flash = ram = 0
    for m in _MAP_LINE.finditer(text):
        sec, addr, size, obj = m.group(1), int(m.group(2), 16), int(m.group(3), 16), m.group(4)
        if Path(obj).name not in objects or size == 0 or addr == 0 and sec.startswith(".debug"):
            continue
        if sec.startswith((".bss", ".sbss", ".tbss", "COMMON")):
            ram += size
        elif sec.startswith((".data", ".sdata", ".tdata")):
            ram += size
            flash += size
        elif sec.startswith((".text", ".rodata", ".srodata")):
            flash += size
    return {"flash": flash, "ram": ram}


def fit_report(board_name: str, flash_cap: int, ram_cap: int, flash: int, ram: int,
               symbols: list[dict[str, Any]], what: str) -> tuple[bool, str]:
    """Whether ``flash``/``ram`` fit the board, and if not, a message naming the biggest consumers."""
    problems = []
    for region, need, cap in (("flash", flash, flash_cap), ("RAM", ram, ram_cap)):
        if need <= cap:
            continue
        key = "flash" if region == "flash" else "ram"
        top = [s for s in symbols if key in s["region"]][:5]
        consumers = ", ".join(f"{s['name']} ({s['size']} B)" for s in top) or "unknown"
        problems.append(f"{region} needs {need} bytes of {cap}: does not fit by {need - cap} bytes; "
                        f"biggest consumers: {consumers}")
    if not problems:
        return True, f"{what} fits {board_name}: flash {flash}/{flash_cap} B, RAM {ram}/{ram_cap} B"
    return False, (f"{what} does not fit {board_name}: " + "; ".join(problems) +
                   ". Shrink the model (fewer or shallower trees, int8 quantization, pruning) "
                   "or choose a board with more memory (`edgeinfer targets`).")
