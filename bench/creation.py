"""Cost of creating a function, ``python -m fastffi bench --creation``.

Per tier: a function of a signature given in (name, restype, argtypes) form --
resolution, eligibility, classification, emission and installation of its
code, the Function object -- both for a shape seen before (the JIT shares
sealed code between functions of one shape) and for a shape never seen in this
process (code emitted and installed).  C-declaration parsing is reported
separately: with the parse cache warm, and cold.  The first functions of a
fresh process are measured in a new interpreter: they pay for the W^X probe
and for recording the code blocks later shapes reuse."""
from __future__ import annotations

import gc
import itertools
import subprocess
import sys

from . import build
from .timing import best_ns

KINDS = ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "pointer", "bool"]


def _best_us(fn, n: int, repeats: int) -> float:
    return best_ns(lambda: fn(n), repeats) / n / 1e3


_FRESH = """
import sys, time
import fastffi
lib = fastffi.dlopen(sys.argv[1])
t0 = time.perf_counter()
lib.function("add_i32", "i32", ["i32", "i32"], tier="jit")
t1 = time.perf_counter()
lib.function("add_i32", "i32", ["f64", "f64"], tier="jit")
t2 = time.perf_counter()
print((t1 - t0) * 1e6, (t2 - t1) * 1e6)
"""


def _fresh_process_us(library: str, repeats: int) -> tuple[float, float]:
    """Creation in a new interpreter, where nothing is cached yet (best of ``repeats``)."""
    runs = [subprocess.run([sys.executable, "-c", _FRESH, library], capture_output=True, text=True,
                           check=True).stdout.split() for _ in range(repeats)]
    return min(float(r[0]) for r in runs), min(float(r[1]) for r in runs)


def run(quick: bool = False) -> list[str]:
    import fastffi
    from fastffi.cdecl import parser, spelling
    from fastffi.model.namespace import DEFAULT

    repeats = 3 if quick else 9
    artifacts = build.build()
    lib = fastffi.dlopen(str(artifacts.targets))
    fresh = iter(itertools.product(KINDS, repeat=4))
    lines = [f"### Creating a function, µs (best of {repeats})", "",
             "| what | µs | note |", "|---|---:|---|"]
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for tier in fastffi.available_tiers():
            same = _best_us(lambda n: [lib.function("add_i32", "i32", ["i32", "i32"], tier=tier)
                                       for _ in range(n)], 200, repeats)
            lines.append(f"| add(i32,i32) on {tier}, a shape seen before | {same:.1f} | |")
        if "jit" in fastffi.available_tiers():
            new = _best_us(lambda n: [lib.function("add_i32", "i32", list(next(fresh)), tier="jit")
                                      for _ in range(n)], 40, repeats)
            code = lib.function("add_i32", "i32", ["i32", "i32"], tier="jit")._code_
            lines.append(f"| a 4-argument signature on jit, a shape never seen | {new:.1f} | "
                         f"add(i32,i32): {code.used} bytes of code, {code.mapped}-byte mapping |")
            first, second = _fresh_process_us(str(artifacts.targets), repeats)
            lines.append(f"| the first function of a fresh process, add(i32,i32) on jit | {first:.1f} | "
                         f"W^X probe, and every code block it needs recorded |")
            lines.append(f"| then add(f64,f64) on jit | {second:.1f} | its argument blocks recorded |")
        warm = _best_us(lambda n: [lib.function("int add_i32(int a, int b)") for _ in range(n)], 200, repeats)
        lines.append(f"| `int add_i32(int a, int b)` as a declaration, parse cached | {warm:.1f} | |")

        def cold(n):
            for _ in range(n):
                DEFAULT.declared.clear()
                spelling.parse_declaration("int add_i32(int a, int b)")
        lines.append(f"| the same declaration, read anew (the fast path, cdecl/fastdecl.py) | "
                     f"{_best_us(cold, 200, repeats):.1f} | |")

        def parsed(n):
            for _ in range(n):
                parser._parse_declaration_text.cache_clear()
                parser.function_signature("int add_i32(int a, int b)", DEFAULT)
        lines.append(f"| the same declaration, parsed by pycparser (shapes the fast path leaves to it: function "
                     f"pointers, arrays, enums) | {_best_us(parsed, 50, repeats):.1f} | |")
        counter = itertools.count()

        def new_text(n):
            for _ in range(n):
                lib.function(f"int add_i32(int a{next(counter)}, int b)")
        lines.append(f"| a new declaration text, created (read + function) | {_best_us(new_text, 200, repeats):.1f} | |")
    finally:
        if was_enabled:
            gc.enable()
        lib.close()
    return lines
