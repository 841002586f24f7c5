"""Benchmarks of batched calls (``fn.map``), ``python -m fastffi bench --batch``.

Reported per row, best of several runs, beside the per-call cost of ctypes and
of fastffi in a Python loop:

- add(i32,i32) over 1,000,000 rows on one thread: the loop the JIT tier emits
  for the register shape, the plan loop and the libffi loop, against a plain C
  loop through a function pointer (the floor) and numpy's own add (no call);
- a 12-argument mixed call over 1,000,000 rows through the plan loop (the
  libffi loop reported beside it);
- libm's cos over an array, against numpy.cos;
- threads=2 against threads=1 on a function doing ~50 ns of work per row.
"""
from __future__ import annotations

import ctypes

from . import build
from .timing import best_ns

ROWS = 1_000_000
MIX12 = ["i32", "f64", "i64", "f32", "u32", "f64", "i16", "f64", "u64", "f32", "i8", "f64"]
#: Twelve mixed arguments of which two go on the stack on x86-64 SysV.
MIX12S = ["i32", "i64", "i16", "u32", "i8", "u64", "i32", "i64", "f64", "f32", "f64", "f64"]


def _library() -> str:
    return build.side_library("batch", "batch_targets.c")


def run(quick: bool = False, data: list | None = None) -> list[str]:
    """Measure and return the report lines (markdown); each row's (case, ns/row) is also
    appended to ``data`` when given (the charts of --plot)."""
    import numpy as np

    import fastffi

    rows = ROWS // 10 if quick else ROWS
    repeats = 3 if quick else 7
    path = _library()
    lib = fastffi.dlopen(path)
    tiers = fastffi.available_tiers()
    a = np.arange(rows, dtype=np.int32)
    b = np.arange(rows, dtype=np.int32)[::-1].copy()
    out = np.empty(rows, dtype=np.int32)
    lines = [f"### Batched calls (fn.map), {rows:,} rows, ns per row (best of {repeats})", "",
             "| case | ns/row | note |", "|---|---:|---|"]

    def row(case, ns_total, note="", count=rows):
        lines.append(f"| {case} | {ns_total / count:.2f} | {note} |")
        if data is not None:
            data.append((case, ns_total / count))

    # The floor: a C loop through a function pointer; numpy's own add.
    clib = ctypes.CDLL(path)
    floor = clib.c_loop_add_i32
    floor.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_size_t]
    fnptr = ctypes.cast(clib.batch_add_i32, ctypes.c_void_p).value
    row("add(i32,i32): C loop through a function pointer (floor)",
        best_ns(lambda: floor(fnptr, a.ctypes.data, b.ctypes.data, out.ctypes.data, rows), repeats))
    row("add(i32,i32): numpy a + b (no call per row)", best_ns(lambda: np.add(a, b, out=out), repeats))
    for tier in tiers:
        fn = lib.function("batch_add_i32", "i32", ["i32", "i32"], tier=tier)
        assert (fn.map(a[:1000], b[:1000]) == a[:1000] + b[:1000]).all()
        kind = {"jit": "JIT-emitted loop", "plan": "plan loop", "libffi": "libffi loop"}[tier]
        row(f"add(i32,i32): fastffi map, {tier} tier", best_ns(lambda: fn.map(a, b, out=out), repeats), kind)

    dtypes = {"i8": np.int8, "i16": np.int16, "i32": np.int32, "i64": np.int64, "u32": np.uint32,
              "u64": np.uint64, "f32": np.float32, "f64": np.float64}
    res = np.empty(rows)
    for name, types, what in (("batch_mix12", MIX12, "12 mixed args, all in registers"),
                              ("batch_mix12s", MIX12S, "12 mixed args, 2 on the stack on x86-64")):
        cols = [(np.arange(rows) % 100).astype(dtypes[t]) for t in types]
        for tier in [t for t in tiers if t != "jit"]:
            fn = lib.function(name, "f64", types, tier=tier)
            loop = "emitted loop" if fastffi.batch._loop(fn) is not None else f"{fn.tier} loop"
            row(f"{name} ({what}): fastffi map, {tier} tier",
                best_ns(lambda: fn.map(*cols, out=res), repeats), loop)

    libm = fastffi.dlopen("libm.so.6")
    x = np.linspace(0.0, 10.0, rows)
    y = np.empty(rows)
    cos = libm.function("double cos(double)")
    row(f"cos(f64): fastffi map ({cos.tier})", best_ns(lambda: cos.map(x, out=y), repeats))
    row("cos(f64): numpy.cos", best_ns(lambda: np.cos(x, out=y), repeats))

    work = lib.function("double work_f64(double)")
    xs = np.linspace(0.0, 1.0, rows // 10)
    ws = np.empty(rows // 10)
    t1 = best_ns(lambda: work.map(xs, out=ws, threads=1), repeats)
    t2 = best_ns(lambda: work.map(xs, out=ws, threads=2), repeats)
    row("work_f64 (~50 ns/row), threads=1", t1, count=len(xs))
    row("work_f64 (~50 ns/row), threads=2", t2, f"{t1 / t2:.2f}x the one-thread rate", count=len(xs))

    # Per call from a Python loop, for comparison.
    n = rows // 20
    add = lib.function("batch_add_i32", "i32", ["i32", "i32"])
    cadd = clib.batch_add_i32
    cadd.argtypes = [ctypes.c_int32, ctypes.c_int32]
    cadd.restype = ctypes.c_int32

    def loop(f):
        def go():
            for i in range(n):
                f(i, 1)
        return go
    row(f"add(i32,i32) per call from a Python loop: fastffi ({add.tier})", best_ns(loop(add), repeats), count=n)
    row("add(i32,i32) per call from a Python loop: ctypes", best_ns(loop(cadd), repeats), count=n)
    lib.close()
    return lines
