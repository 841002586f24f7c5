"""Smoke test of an installed fastffi wheel where there is no compiler and no libffi: libm and
libc on every tier, a struct by value both ways, a batched call, a callback, introspection.

Run by scripts/packaging/wheels.sh inside a copy of the forky root with gcc, cpp, libffi-dev and
libffi8 removed (so the libffi in use can only be the one the wheel carries).  Exits non-zero with
the reason on the first thing that is wrong."""
from __future__ import annotations

import array
import glob
import inspect
import math
import shutil
import sys

import fastffi

# What this environment must not have: the point is that the wheel needs none of it.
for tool in ("gcc", "cc", "cpp"):
    assert shutil.which(tool) is None, f"{tool} is installed: this is not a compiler-free environment"
assert not glob.glob("/usr/include/**/ffi.h", recursive=True), "libffi's headers are installed"
assert not glob.glob("/usr/lib/*/libffi.so*"), "the system libffi is installed"

# The core's libffi is the one auditwheel put beside it.
with open("/proc/self/maps") as maps:
    libffi = sorted({line.split()[-1] for line in maps if "libffi" in line})
assert libffi and all("/fastffi.libs/libffi-" in path for path in libffi), libffi
print(f"fastffi {fastffi.__version__} from {fastffi.__file__}")
print(f"libffi: {fastffi.LIBFFI_VERSION} at {libffi[0]}")
print(f"tiers: {', '.join(fastffi.available_tiers())}")

libm = fastffi.dlopen("libm.so.6")
libc = fastffi.dlopen("libc.so.6")

for tier in fastffi.available_tiers():
    cos = libm.function("double cos(double x)", tier=tier)
    assert cos.tier == tier, (cos.tier, tier)
    assert cos(0.5) == math.cos(0.5)
    labs = libc.function("long labs(long j)", tier=tier)
    assert labs(-(2**62)) == 2**62
    try:
        labs(2**63)
    except OverflowError as e:
        assert str(e) == "labs() argument 1: 9223372036854775808 does not fit i64", str(e)
    else:
        raise AssertionError("labs(2**63) was not refused")
    snprintf = libc.function("int snprintf(char *s, size_t n, const char *fmt, ...)", tier=tier)
    buf = bytearray(32)
    assert snprintf(buf, 32, b"%d %s %.1f", -5, b"ok", 2.5) == 9 and bytes(buf[:10]) == b"-5 ok 2.5\0"
    print(f"tier {tier}: cos, labs, snprintf ok")

# Structs by value: div_t returned (C11 7.22.6.2), struct in_addr passed (inet_ntoa).
DivT = fastffi.struct("div_t", [("quot", "int"), ("rem", "int")])
div = libc.function("div", DivT, ["int", "int"])
r = div(17, 5)
assert (r.quot, r.rem) == (3, 2), r
InAddr = fastffi.struct("in_addr", [("s_addr", "u32")])
inet_ntoa = libc.function("inet_ntoa", "string", [InAddr])
assert inet_ntoa(InAddr(s_addr=0x0100007F)) == "127.0.0.1"
print("structs by value ok")

# A batched call, without numpy: array.array columns and out.
x = array.array("d", [0.0, 0.25, 0.5, 1.0])
out = array.array("d", bytes(8 * len(x)))
libm.function("double sin(double)").map(x, out=out)
assert list(out) == [math.sin(v) for v in x], list(out)
print("map ok")

# A callback: qsort calls Python (its address passed for the function pointer).
qsort = libc.function("void qsort(void *base, size_t n, size_t size, void *compar)")
with fastffi.callback("int cmp(const void *a, const void *b)",
                      lambda a, b: fastffi.read(a, "int") - fastffi.read(b, "int")) as cmp:
    values = fastffi.array("int", [5, -3, 9, 1])
    qsort(values, 4, 4, cmp.address)
    assert list(values) == [-3, 1, 5, 9], list(values)
print(f"callback ok ({cmp.tier})")

# Headers: cdef needs no compiler; include() says which package brings the preprocessor.
h = fastffi.cdef("#define SMOKE (1 << 4)\nstruct pair { int a; double b; };")
assert h.constants["SMOKE"] == 16 and fastffi.sizeof(h.type("struct pair")) == 16
try:
    fastffi.include("zlib.h")
except fastffi.HeaderError as e:
    assert str(e) == ("no C preprocessor found (tried cc, gcc, clang, cpp): install one, for example "
                      "Debian's 'cpp' package (apt-get install cpp)"), str(e)
else:
    raise AssertionError("include() worked without a preprocessor")
print("headers ok (include() refused without cpp)")

assert cos.__doc__ == "double cos(double x);"
assert str(inspect.signature(cos)) == "(x: 'double', /) -> 'double'"
print(f"smoke test passed on Python {sys.version.split()[0]}")
