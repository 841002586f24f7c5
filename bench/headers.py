"""Binding whole headers, ``python -m fastffi bench --headers``: cold and warm
``fastffi.include()`` of the issue's headers, beside ``cffi.FFI().cdef`` of
the same declarations, and the first call of a function bound from a header
against ``lib.function(decl)``.

cold: the in-process memo cleared and ``cache=False`` (the preprocessor runs,
the text is parsed).  warm: the memo cleared, the on-disk cache read (a
private cache directory).  cffi is given the same preprocessed text after
fastffi's pre-pass (compiler extensions removed, inline bodies made
prototypes, builtin types declared opaque): where its parser still refuses
the text (cffi accepts no constant expression in an array size but a plain
number) the table says so.  Each figure is the best of a few runs."""
from __future__ import annotations

import os
import re
import tempfile

from .timing import best_ns

HEADERS = ["zlib.h", "sqlite3.h", "openssl/sha.h", "openssl/evp.h", "stdio.h", "stdlib.h", "string.h",
           "time.h", "sys/stat.h", "dirent.h", "pthread.h", "netdb.h", "math.h", "complex.h"]


def _cffi_text(header: str) -> str:
    from fastffi.cdecl import preprocess as cpp
    from fastffi.cdecl.header import _Source
    from fastffi.cdecl.prepass import clean

    text = cpp.preprocess(header, cpp.find_compiler())
    cleaned = clean(_Source(text, header, preprocessed=True, own_suffix=header).text)
    body = re.sub(r"\)\s*\{\s*\}", ");", cleaned.text)
    opaque = "".join(f"typedef struct {{ ...; }} {n};\n" for n in sorted(cleaned.opaque | {"__builtin_va_list"}))
    return opaque + body


def run(quick: bool = False) -> list[str]:
    import fastffi
    import fastffi.header as H

    repeat = 2 if quick else 5
    old = os.environ.get("FASTFFI_CACHE_DIR")
    lines = ["## Headers (issue 15)", "",
             "| header | functions | constants | types | cold include | warm include | cffi cdef |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory(prefix="fastffi-bench-cache-") as d:
        os.environ["FASTFFI_CACHE_DIR"] = d
        try:
            for name in HEADERS:
                try:
                    def cold():
                        H._includes.clear()
                        return fastffi.include(name, cache=False)
                    t_cold = best_ns(cold, repeat)
                    H._includes.clear()
                    h = fastffi.include(name)   # writes the cache entry

                    def warm():
                        H._includes.clear()
                        fastffi.include(name)
                    t_warm = best_ns(warm, repeat * 2)
                except fastffi.HeaderError as e:
                    lines.append(f"| {name} | not installed: {e} | | | | | |")
                    continue
                try:
                    import cffi

                    text = _cffi_text(name)
                    t_cffi = f"{best_ns(lambda: cffi.FFI().cdef(text, override=True), repeat) / 1e6:.1f} ms"
                except ImportError:
                    t_cffi = "cffi not installed"
                except Exception as e:   # cffi's own CDefError and parse errors
                    t_cffi = f"refuses the text ({type(e).__name__})"
                lines.append(f"| {name} | {len(h.functions)} | {len(h.constants)} | {len(h.types)} | "
                             f"{t_cold / 1e6:.1f} ms | {t_warm / 1e6:.2f} ms | {t_cffi} |")
        finally:
            if old is None:
                os.environ.pop("FASTFFI_CACHE_DIR", None)
            else:
                os.environ["FASTFFI_CACHE_DIR"] = old
    lines += ["", *_first_call(repeat)]
    return lines


def _first_call(repeat: int) -> list[str]:
    """The first call of a function bound from a header, against one
    declared with lib.function(decl) (a new declaration text each time)."""
    import fastffi

    h = fastffi.include("zlib.h")
    decls = [f"unsigned long crc32(unsigned long c{i}, const unsigned char *b, unsigned int n)" for i in range(50)]

    def from_header():
        with fastffi.dlopen("libz.so.1", h) as z:
            z.crc32(0, b"a", 1)

    def from_decl():
        with fastffi.dlopen("libz.so.1") as z:
            z.function(decls.pop())(0, b"a", 1)

    t_h = best_ns(from_header, repeat * 4)
    t_d = best_ns(from_decl, repeat * 4)
    return ["| first call of zlib's crc32 | time |", "|---|---:|",
            f"| bound from include('zlib.h') (dlopen + first access + call) | {t_h / 1e3:.0f} µs |",
            f"| lib.function(new declaration text) (dlopen + parse + call) | {t_d / 1e3:.0f} µs |"]


if __name__ == "__main__":
    print("\n".join(run()))
