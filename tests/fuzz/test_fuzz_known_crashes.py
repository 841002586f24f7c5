"""What the harnesses must not reach in-process on today's main: the crashes and silent
out-of-bounds accesses issue 12 lists, and what the fuzzers found, each as a strict xfail
naming its item.  Each crash case runs in a child process, so a segfault or a sanitizer
report fails that case alone (the child's ASan/UBSan report, if any, goes to a private
file and into the failure message: under scripts/sanitize.sh these are expected reports,
not the run's).  When an item's fix lands, its cases XPASS, which strict=True turns into a
failure: the lead then deletes that item's xfail mark (the XFAIL dict below), and the case is
the fix's regression test from then on."""
from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastffi
import fuzzing

TIERS = fastffi.available_tiers()

#: issue 12 item -> the reason its cases are expected to fail today.  Delete an entry when
#: the item's fix is merged (its cases then pass, and strict xfail would fail them).
XFAIL: dict[str, str] = {}


def expect_failure(request, item):
    """Mark the running test a strict xfail while ``item`` is in XFAIL."""
    if item in XFAIL:
        request.applymarker(pytest.mark.xfail(strict=True, reason=XFAIL[item]))


def run_child(code: str, tmp_path, *args, timeout=120) -> str:
    """Run ``code`` in a fresh interpreter; its stdout, or a failure with what it printed and
    any sanitizer report it wrote."""
    env = dict(os.environ)
    for var, name in (("ASAN_OPTIONS", "asan"), ("UBSAN_OPTIONS", "ubsan")):
        if var in env:
            env[var] = re.sub(r"log_path=[^:]*", f"log_path={tmp_path / name}", env[var])
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout)
    reports = "".join(p.read_text() for p in sorted(pathlib.Path(tmp_path).glob("*san.*")))
    assert proc.returncode == 0 and not reports, (
        f"child exited with status {proc.returncode}\nstdout: {proc.stdout}\n"
        f"stderr: {proc.stderr[-3000:]}\n{reports[-3000:]}")
    return proc.stdout


# ---- item 1: an argument's conversion closes the library ------------------------------

CLOSERS = """
import random, sys, fastffi
path, tier, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(12)
class Closer:
    def __init__(self, lib, v): self.lib, self.v = lib, v
    def __index__(self): self.lib.close(); return int(self.v)
    def __float__(self): self.lib.close(); return float(self.v)
SIGS = [("add_i32", "i32", ["i32", "i32"]), ("add_f64", "f64", ["f64", "f64"]), ("id_ptr", "pointer", ["pointer"]),
        ("wsum_f32_f64_i32", "f64", ["f32", "f64", "i32"]), ("sum_8_i64", "i64", ["i64"] * 8),
        ("mix_10i_10d", "f64", ["i64", "f64"] * 10)]
done = 0
for _ in range(count):
    name, rt, ats = rng.choice(SIGS)
    lib = fastffi.dlopen(path)
    try:
        fn = lib.function(name, rt, ats, tier=tier, release_gil=rng.random() < 0.5)
    except fastffi.FFIError:
        lib.close()
        continue
    args = [1] * len(ats)
    args[rng.randrange(len(ats))] = Closer(lib, 1)
    try:
        fn(*args)
    except fastffi.LibraryClosedError as e:
        assert str(e) == f"{name}(): library {lib.name!r} is closed", e
        done += 1
    else:
        raise AssertionError(f"{name} on {tier} ran after its library was closed")
print("closed", done)
"""


@pytest.mark.parametrize("tier", TIERS)
def test_an_argument_that_closes_the_library_raises_library_closed(request, fixture_lib_path, tmp_path, tier):
    expect_failure(request, 1)
    count = max(5, fuzzing.EXAMPLES // 4)
    fuzzing.tick("known crashes")
    out = run_child(CLOSERS, tmp_path, fixture_lib_path, tier, count)
    n = int(out.split()[-1])
    fuzzing.tick("known crashes", n - 1)
    assert n > 0


# ---- item 2: helpers outside a fastffi object's bytes ---------------------------------

OUT_OF_BOUNDS = {
    "read past a box": 'fastffi.read(fastffi.new("u8"), "u64", 40)',
    "read before a box": 'fastffi.read(fastffi.new("u32"), "u8", -1)',
    "read a wider type than the box": 'fastffi.read(fastffi.new("u8"), "u64")',
    "write a wider type than the box": 'fastffi.write(fastffi.new("u8"), "u64", 2**60)',
    "view larger than a box": 'fastffi.view(fastffi.new("i32"), 65536)',
    "to_bytes past an array": 'fastffi.to_bytes(fastffi.array("u8", 4), 4096)',
    "write_bytes past an array": 'fastffi.write_bytes(fastffi.array("u8", 4), b"A" * 256)',
    "to_string past an array": 'fastffi.to_string(fastffi.array("u8", [65] * 4), 4096)',
    "to_string with no NUL inside": 'fastffi.to_string(fastffi.array("u8", [65] * 64))',
    "read a struct past a struct": 'S = fastffi.struct("S", [("a", "u8")]); '
                                   'T = fastffi.struct("T", [("b", "u64[64]")]); fastffi.read(S(), T)',
    "write a struct past a box": 'T = fastffi.struct("T", [("b", "u64[64]")]); '
                                 'fastffi.write(fastffi.new("u8"), T, T())',
}

OOB_CHILD = """
import sys, fastffi
try:
    exec(sys.argv[1])
except (ValueError, IndexError) as e:
    print(type(e).__name__, e)
else:
    print("no error")
"""


@pytest.mark.parametrize("case", sorted(OUT_OF_BOUNDS))
def test_helpers_refuse_accesses_outside_the_object(request, tmp_path, case):
    expect_failure(request, 2)
    fuzzing.tick("known crashes")
    out = run_child(OOB_CHILD, tmp_path, OUT_OF_BOUNDS[case])
    assert out.split()[0] in ("ValueError", "IndexError"), out


# ---- items 3, 4, 5: pointees, exports, terminators -------------------------------------

POINTEES = {
    3: [
        # a 1-byte buffer for an int64_t * the C side reads (ASan: heap-buffer-overflow in the fixture)
        'lib.function("int64_t load_i64(const int64_t *p)")(bytearray(1))',
        # a u8 box for an int64_t * the C side writes
        'lib.function("void store_i64(int64_t *p, int64_t v)")(fastffi.new("u8"), -1)',
        # a 16-byte struct for a double * array of 8 the C side sums
        'S = fastffi.struct("S", [("a", "f64"), ("b", "f64")]); '
        'lib.function("double sum_f64_arr(const double *a, int64_t n)")(S(), 2); '
        'lib.function("void store_f64(double *p, double v)")(fastffi.new("u8"), 1.0)',
    ],
    5: [
        'lib.function("int64_t len_str(const char *s)")(memoryview(b"abcdefgh")[:3]) == 3 or sys.exit("read past")',
        'import numpy; lib.function("int64_t len_str(const char *s)")(numpy.full(64, 65, dtype=numpy.uint8))',
    ],
}

POINTEE_CHILD = """
import sys, fastffi
lib = fastffi.dlopen(sys.argv[1])
try:
    exec(sys.argv[2])
except (TypeError, ValueError) as e:
    print(type(e).__name__, e)
else:
    print("no error")
"""


@pytest.mark.parametrize("item, index", [(item, i) for item, cases in POINTEES.items() for i in range(len(cases))])
def test_pointer_arguments_are_checked(request, fixture_lib_path, tmp_path, item, index):
    expect_failure(request, item)
    fuzzing.tick("known crashes")
    out = run_child(POINTEE_CHILD, tmp_path, fixture_lib_path, POINTEES[item][index])
    assert out.split()[0] in ("TypeError", "ValueError"), out


FROM_BUFFER_CHILD = """
import fastffi
S = fastffi.struct("S", [("a", "u64"), ("b", "u64")])
backing = bytearray(16)
s = S.from_buffer(backing)
try:
    backing.extend(b"x" * 65536)   # moves the bytes the view points at
except BufferError:
    print("BufferError")
else:
    s.a = 2**64 - 1                # today: a write into freed memory
    print("resized")
"""


def test_from_buffer_holds_the_export(request, tmp_path):
    expect_failure(request, 4)
    fuzzing.tick("known crashes")
    out = run_child(FROM_BUFFER_CHILD, tmp_path)
    assert out.strip() == "BufferError"


# ---- fuzz findings and item 12, in-process (no crash, a wrong class or a long time) ----

DEEP_MESSAGE = "declaration nests too deeply (more than 128 levels of declarators and operators)"


@pytest.mark.parametrize("decl", ["int f(int" + "*" * 1000 + ")", "int" + "*" * 1000 + " f(void)"])
def test_a_deep_declarator_is_a_signature_error(request, decl):
    expect_failure(request, "recursion")
    fuzzing.tick("known crashes")
    with pytest.raises(fastffi.SignatureError) as e:
        fastffi.function(1, decl)
    assert str(e.value) == DEEP_MESSAGE


def test_sizeof_a_deep_pointer_type_is_a_signature_error(request):
    expect_failure(request, "recursion")
    fuzzing.tick("known crashes")
    with pytest.raises(fastffi.SignatureError) as e:
        fastffi.sizeof("int" + "*" * 1000)
    assert str(e.value) == DEEP_MESSAGE


def test_map_bool_column_bytes_other_than_0_or_1(request, fixture_lib_path):
    expect_failure(request, "bool column")
    fuzzing.tick("known crashes")
    col = memoryview(bytearray([0, 1, 2, 255])).cast("?")
    with fastffi.dlopen(fixture_lib_path) as lib:
        fn = lib.function("int32_t widen_bool(_Bool x)")
        # Each byte taken as numpy and a call per row take it (nonzero -> 1).
        assert fn.map(col).tolist() == [0, 1, 1, 1]


@pytest.mark.parametrize("kind, name", [("f32", "id_f32"), ("f64", "id_f64"), ("longdouble", "fe_ld_id")])
def test_a_numpy_complex_is_no_real(request, fixture_lib_path, kind, name):
    expect_failure(request, "numpy complex into a real")
    fuzzing.tick("known crashes")
    z = np.complex64(1 + 2j)
    with fastffi.dlopen(fixture_lib_path) as lib:
        for tier in TIERS:
            try:
                fn = lib.function(name, kind, [kind], tier=tier)
            except fastffi.FFIError:
                continue
            with pytest.raises(TypeError) as e:
                fn(z)
            assert str(e.value) == f"{name}() argument 1: expected {kind}, got complex64"
    box = fastffi.new(kind)
    with pytest.raises(TypeError) as e:
        box.value = z
    assert str(e.value) == f"value: expected {kind}, got complex64"
    assert box.value == 0


LARGE_ARRAY_CHILD = """
import time, fastffi
t0 = time.perf_counter()
H = fastffi.struct("H", [("a", "u8[4000000]")])
print(fastffi.sizeof(H), time.perf_counter() - t0)
"""


@pytest.mark.no_sanitizer  # a wall-clock bound
def test_a_large_array_field_defines_quickly(request, tmp_path):
    expect_failure(request, 12)
    fuzzing.tick("known crashes")
    # In a child with a timeout: today it takes seconds, which every suite would pay.
    try:
        out = run_child(LARGE_ARRAY_CHILD, tmp_path, timeout=5)
    except subprocess.TimeoutExpired:
        raise AssertionError("not defined in 5 s") from None
    size, elapsed = out.split()
    assert int(size) == 4000000
    # The issue asks for under 1 ms; the bound leaves room for a loaded 2-core machine.
    assert float(elapsed) < 0.05, f"{float(elapsed):.3f} s"
