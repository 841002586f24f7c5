"""Typed pointer results (issue 15): instructions per call of a ``void *``
result (a plain int) against a ``struct tp_point *`` one (a fastffi.Pointer),
on the JIT and plan tiers, counted by callgrind.

``python -m bench.typed_pointers``: compiles tests/fixture/typed_pointers.c,
re-runs this module under valgrind once per tier (``--worker``), which runs
an empty loop and the two call loops of N calls each, separated by
``os.getppid()`` calls -- callgrind's ``--dump-before=getppid`` writes each
segment's count to its own file, as bench/_cg_worker.py's segments do.
instructions/call = (Ir(call loop) - Ir(empty loop)) / N."""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .callgrind import MARKER, segment_totals, valgrind

N = 20_000
FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixture"


def _worker(lib_path: str, tier: str, n: int) -> None:
    import fastffi

    gc.disable()
    lib = fastffi.dlopen(lib_path)
    point = fastffi.struct("tp_point", [("x", "i32"), ("y", "i32")])
    plain = lib.function("void *tp_array_void(void)", tier=tier)
    typed = lib.function("struct tp_point *tp_array(void)", tier=tier, types={"struct tp_point": point})
    handle = lib.function("struct tp_hidden *tp_hidden_get(void)", tier=tier)   # incomplete: a plain int

    def empty(k):
        for _ in range(k):
            pass

    def calls(f, k):
        for _ in range(k):
            f()

    for f in (plain, typed, handle):
        calls(f, 64)
    empty(64)
    ballast = [i + 10**6 for i in range(4000)]   # half-used obmalloc pools, as _cg_worker does
    del ballast[::2]
    marker = getattr(os, MARKER)
    marker()
    empty(n)
    marker()
    calls(plain, n)
    marker()
    calls(typed, n)
    marker()
    calls(handle, n)
    marker()


def run(n: int = N) -> list[str]:
    vg = valgrind()
    if vg is None:
        return ["valgrind is not installed: no instruction counts"]
    lines = ["| tier | `void *` result | `struct tp_point *` result (a Pointer) | `struct tp_hidden *` result "
             "(incomplete: an int) |", "|---|---:|---:|---:|"]
    with tempfile.TemporaryDirectory(prefix="fastffi-tp-") as d:
        lib = Path(d) / "libtp.so"
        subprocess.run([os.environ.get("CC", "cc"), "-O2", "-fPIC", "-shared", f"-I{FIXTURE}", "-o", str(lib),
                        str(FIXTURE / "typed_pointers.c")], check=True)
        for tier in ("jit", "plan"):
            ir = segment_totals(["-m", "bench.typed_pointers", "--worker", str(lib), tier, str(n)],
                                Path(d) / f"cg-{tier}.out", ["setup", "empty", "plain", "typed", "handle"],
                                cwd=Path(__file__).resolve().parent.parent)
            empty, plain, typed, handle = (ir[k] for k in ("empty", "plain", "typed", "handle"))
            lines.append(f"| {tier} | {(plain - empty) / n:.0f} | {(typed - empty) / n:.0f} "
                         f"| {(handle - empty) / n:.0f} |")
    return lines


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        _worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        print("\n".join(run()))
