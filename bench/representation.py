"""What a no-op call costs for each callable representation, in instructions
per call under callgrind (``python -m fastffi bench --representation``).

fastffi.Function is an immutable type with a vectorcall entry because that is
a callable CPython 3.11 specialises at the call site (PRECALL_BUILTIN_CLASS)
while it can still carry fn.tier and fn.explain(); see representation.c."""
from __future__ import annotations

import sysconfig
import tempfile
from pathlib import Path

from . import build, callgrind

N = 20000
WORKER = """
import os, sys
sys.path.insert(0, {directory!r})
import representation as r
def loop(f, n):
    for _ in range(n):
        f()
def empty(n):
    for _ in range(n):
        pass
f = {{"builtin": r.builtin, "vectorcall object": r.vecobj, "immutable type with tp_vectorcall": r.vectype}}[sys.argv[1]]
ballast = [i + 10**6 for i in range(4000)]   # see _cg_worker.py
del ballast[::2]
loop(f, 64); empty(64)
os.getppid(); empty(0); os.getppid(); empty({n}); os.getppid(); loop(f, {n}); os.getppid()
"""
NAMES = ("builtin", "vectorcall object", "immutable type with tp_vectorcall")


def _build(directory: Path) -> None:
    cc = build._compiler()
    if cc is None:
        raise RuntimeError("a C compiler is needed")
    out = directory / ("representation" + sysconfig.get_config_var("EXT_SUFFIX"))
    build._run_compiler([*cc, "-O2", "-fPIC", "-shared", f"-I{sysconfig.get_paths()['include']}",
                         str(build.SOURCE_DIR / "representation.c"), "-o", str(out)])


def run() -> list[str]:
    valgrind = callgrind.valgrind()
    if valgrind is None:
        raise RuntimeError("valgrind is not installed")
    lines = ["### No-op call by callable representation (callgrind, instructions/call, loop taken off)", "",
             "| representation | instructions/call |", "|---|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        _build(directory)
        script = directory / "worker.py"
        script.write_text(WORKER.format(directory=str(directory), n=N))
        for name in NAMES:
            ir = callgrind.segment_totals([str(script), name], directory / f"cg.{NAMES.index(name)}",
                                          ["setup", "empty/0", "empty/N", "loop/N"])
            empty = (ir["empty/N"] - ir["empty/0"]) / N
            lines.append(f"| {name} | {(ir['loop/N'] - ir['empty/0']) / N - empty:.0f} |")
    return lines
