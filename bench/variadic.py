"""Variadic calls, ``python -m fastffi bench --variadic``: ``snprintf(buf, 64,
"%d %f", i, x)`` and ``long va_sum(int n, ...)`` (variadic_targets.c) through
fastffi with inferred types, through ``fn.variadic(...)``, through a fixed
signature of the same shape (va_sum only: its ints read the same either way;
a fixed-prototype call of snprintf with a double would be undefined -- %al), through ctypes (``c_int``/``c_double`` wrappers,
as its users must write them), cffi ABI mode (``ffi.cast``) and a plain C loop
making the same calls -- in one run.

The figure that matters is the *overhead* over the C loop: snprintf itself
costs hundreds of ns, so a ratio of whole times would measure snprintf.  With
``callgrind=True`` the same loops are also counted in instructions per call
under valgrind (this module re-runs itself there, one segment per loop, split
at ``os.getppid()`` as bench/_cg_worker.py does)."""
from __future__ import annotations

import ctypes
import gc
import json
import os
import sys
import tempfile
from pathlib import Path

from . import build
from .callgrind import segment_totals, valgrind
from .loops import make_loop
from .timing import best_ns

N = 200_000
FMT = b"%d %f"


def _library() -> str:
    return build.side_library("variadic", "variadic_targets.c")


def _peers(path: str) -> list[tuple[str, str, object, tuple]]:
    """(case, peer, fn, args) for every call loop; the C loops are not here."""
    import fastffi

    lib = fastffi.dlopen(path)
    libc = fastffi.dlopen("libc.so.6")
    buf = bytearray(64)
    sn = libc.function("int snprintf(char *s, size_t n, const char *fmt, ...)")
    vs = lib.function("long va_sum(int n, ...)")
    out = [
        ("snprintf", "fastffi inferred", sn, (buf, 64, FMT, 7, 2.5)),
        ("snprintf", "fastffi fn.variadic", sn.variadic("int", "double"), (buf, 64, FMT, 7, 2.5)),
        ("va_sum", "fastffi inferred", vs, (2, 3, 4)),
        ("va_sum", "fastffi fn.variadic", vs.variadic("int", "int"), (2, 3, 4)),
        ("va_sum", "fastffi fixed signature", lib.function("va_sum", "i64", ["i32", "i32", "i32"]), (2, 3, 4)),
    ]
    cdll, clibc = ctypes.CDLL(path), ctypes.CDLL("libc.so.6")
    csn = clibc.snprintf
    csn.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p]
    csn.restype = ctypes.c_int
    cvs = cdll.va_sum
    cvs.argtypes = [ctypes.c_int]
    cvs.restype = ctypes.c_long
    cbuf = ctypes.create_string_buffer(64)
    out += [("snprintf", "ctypes", lambda b, n, f, i, x: csn(b, n, f, ctypes.c_int(i), ctypes.c_double(x)),
             (cbuf, 64, FMT, 7, 2.5)),
            ("va_sum", "ctypes", lambda n, a, b: cvs(n, ctypes.c_int(a), ctypes.c_int(b)), (2, 3, 4))]
    try:
        import cffi
    except ImportError:
        return out
    ffi = cffi.FFI()
    ffi.cdef("int snprintf(char *, size_t, const char *, ...); long va_sum(int, ...);")
    fc, fl = ffi.dlopen(None), ffi.dlopen(path)
    fbuf = ffi.new("char[64]")
    cast = ffi.cast
    out += [("snprintf", "cffi", lambda b, n, f, i, x: fc.snprintf(b, n, f, cast("int", i), cast("double", x)),
             (fbuf, 64, FMT, 7, 2.5)),
            ("va_sum", "cffi", lambda n, a, b: fl.va_sum(n, cast("int", a), cast("int", b)), (2, 3, 4))]
    return out


def _c_loops(path: str):
    cdll = ctypes.CDLL(path)
    loops = {"snprintf": (cdll.c_loop_snprintf, (ctypes.c_long, ctypes.c_int, ctypes.c_double), (7, 2.5)),
             "va_sum": (cdll.c_loop_va_sum, (ctypes.c_long, ctypes.c_int, ctypes.c_int), (3, 4))}
    for fn, argtypes, _ in loops.values():
        fn.argtypes = list(argtypes)
        fn.restype = ctypes.c_long
    return loops


def _time(loop, fn, args, n, repeats) -> float:
    return min(loop(fn, args, n) for _ in range(repeats)) / n


def run(quick: bool = False, callgrind: bool = False) -> list[str]:
    """Measure and return the report lines (markdown)."""
    path = _library()
    n = N // 10 if quick else N
    repeats = 3 if quick else 7
    gc.disable()
    try:
        empty = _time(make_loop(None), None, (), n, repeats)
        ns = {}
        for case, peer, fn, args in _peers(path):
            loop = make_loop(len(args))
            loop(fn, args, 100)
            ns[case, peer] = _time(loop, fn, args, n, repeats) - empty
        for case, (fn, _, args) in _c_loops(path).items():
            ns[case, "C loop"] = best_ns(lambda: fn(n, *args), repeats) / n
    finally:
        gc.enable()
    ir = _callgrind(path) if callgrind and valgrind() else {}
    lines = [f"### Variadic calls, ns/call (best of {repeats} x {n:,} calls)"
             + (", instructions/call (callgrind)" if ir else ""), "",
             "| case | peer | ns/call | overhead over C (ns) | instructions/call |", "|---|---|---:|---:|---:|"]
    for case in ("snprintf", "va_sum"):
        floor = ns[case, "C loop"]
        for (c, peer), v in ns.items():
            if c == case:
                cg = ir.get(f"{case}/{peer}")
                lines.append(f"| {case} | {peer} | {v:.1f} | {v - floor:.1f} | "
                             f"{'' if cg is None else f'{cg:.0f}'} |")
        if (case, "ctypes") in ns:
            ratio = (ns[case, "fastffi inferred"] - floor) / (ns[case, "ctypes"] - floor)
            lines.append(f"| {case} | inferred overhead / ctypes overhead | {ratio:.3f} | | |")
        fixed, var = ir.get(f"{case}/fastffi fixed signature"), ir.get(f"{case}/fastffi fn.variadic")
        if fixed and var:
            lines.append(f"| {case} | fn.variadic instructions / fixed signature's | {var / fixed:.4f} | | |")
    return lines


# ---- callgrind ------------------------------------------------------------------------------

CG_N = 2000


def _callgrind(path: str) -> dict[str, float]:
    """{"case/peer": instructions per call, the empty loop taken off}."""
    with tempfile.TemporaryDirectory(prefix="fastffi-cg-var-") as d:
        totals = segment_totals(["-m", f"{__package__}.variadic", "--cg-worker", path], Path(d) / "cg",
                                cwd=build.SOURCE_DIR.parent)
    base, per_empty = totals["empty/0"], (totals["empty/N"] - totals["empty/0"]) / CG_N
    return {label: (t - base) / CG_N - per_empty for label, t in totals.items()
            if label not in ("setup", "empty/0", "empty/N")}


def _cg_worker(path: str) -> int:
    gc.disable()
    segments = [("empty/0", make_loop(None), None, (), 0), ("empty/N", make_loop(None), None, (), CG_N)]
    for case, peer, fn, args in _peers(path):
        segments.append((f"{case}/{peer}", make_loop(len(args)), fn, args, CG_N))
    for _, loop, fn, args, _ in segments:
        loop(fn, args, 64)
    os.getppid()   # ends "setup"
    for _, loop, fn, args, count in segments:
        loop(fn, args, count)
        os.getppid()
    print(json.dumps(["setup"] + [s[0] for s in segments]))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--cg-worker"]:
        sys.exit(_cg_worker(sys.argv[2]))
    print("\n".join(run(quick="--quick" in sys.argv, callgrind="--callgrind" in sys.argv)))
