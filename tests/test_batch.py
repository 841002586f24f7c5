"""fn.map() and fn.shared(): results identical to calling row by row, on every
tier and every loop (emitted, plan, libffi), with real libraries and the
fixture; everything validated before the first call."""
from __future__ import annotations

import array
import math
import struct

import numpy as np
import pytest

import fastffi
from fastffi import batch
from conftest import struct_tier
from test_calls import fallback_after_refusal

DTYPES = {"i8": np.int8, "i16": np.int16, "i32": np.int32, "i64": np.int64, "u8": np.uint8, "u16": np.uint16,
          "u32": np.uint32, "u64": np.uint64, "f32": np.float32, "f64": np.float64, "bool": np.bool_}


def row_by_row(fn, *columns):
    rows = max(len(c) for c in columns if hasattr(c, "__len__"))
    values = [[c[i] if hasattr(c, "__len__") else c for c in columns] for i in range(rows)]
    return [fn(*(v.item() if isinstance(v, np.generic) else v for v in row)) for row in values]


def loop_kind(fn):
    return "emitted" if batch._loop(fn) is not None else fn.tier


@pytest.mark.parametrize("name, restype, argtypes", [
    ("add_i32", "i32", ["i32", "i32"]),
    ("add_i64", "i64", ["i64", "i64"]),
    ("add_u64", "u64", ["u64", "u64"]),
    ("add_f32", "f32", ["f32", "f32"]),
    ("add_f64", "f64", ["f64", "f64"]),
    ("wsum_i8_i16_i32_i64", "i64", ["i8", "i16", "i32", "i64"]),
    ("wsum_f32_f64_i32", "f64", ["f32", "f64", "i32"]),
    ("id_bool", "bool", ["bool"]),
    ("id_u8", "u8", ["u8"]),
    ("id_i16", "i16", ["i16"]),
    ("sum_12_i64", "i64", ["i64"] * 12),
    ("mix_10i_10d", "f64", ["i64", "f64"] * 10),
])
def test_map_equals_row_by_row(lib, tier, name, restype, argtypes):
    try:
        fn = lib.function(name, restype, argtypes, tier=tier)
    except fastffi.FFIError as e:   # the JIT's call path takes at most 8 arguments
        fn = fallback_after_refusal(e, name, tier, lambda: lib.function(name, restype, argtypes))
    rng = np.random.default_rng(7)
    cols = []
    for t in argtypes:
        if t in ("f32", "f64"):
            cols.append((rng.standard_normal(257) * 100).astype(DTYPES[t]))
        elif t == "bool":
            cols.append(rng.integers(0, 2, 257).astype(np.bool_))
        else:
            info = np.iinfo(DTYPES[t])
            cols.append(rng.integers(info.min // 2, info.max // 2, 257, dtype=DTYPES[t], endpoint=True))
    got = fn.map(*cols)
    assert got.dtype == DTYPES[restype] and got.shape == (257,)
    want = row_by_row(fn, *cols)
    assert got.tolist() == want


def test_loops_are_chosen_as_documented(lib):
    """Emitted loops need the JIT allowed for the function, and take every
    register-only scalar shape -- beyond the call path's 8-argument cap -- but
    never stack arguments, structs, or an exact request below the JIT."""
    jit_here = "jit" in fastffi.available_tiers()
    address = lib.symbol("add_i32")   # only the loop choice is looked at below

    def kind(argtypes, **kw):
        return loop_kind(fastffi.function(address, "f64", argtypes, name="f", **kw))

    gp, fp = fastffi.tiers.jit.emitter().LIMITS if fastffi.tiers.jit.emitter() else (0, 0)
    below = [t for t in fastffi.available_tiers() if t != "jit"][0]
    assert kind(["i32", "i32"]) == ("emitted" if jit_here else below)
    assert kind(["i64"] * gp + ["f64"] * fp) == ("emitted" if jit_here else below)   # > 8 arguments
    assert kind(["i64"] * (gp + 1)) == below                                          # one on the stack
    assert kind(["i32", "i32"], tier="plan") == "plan"
    assert kind(["i32", "i32"], tier="libffi") == "libffi"


def test_strided_and_broadcast_columns(lib, tier):
    add = lib.function("add_i64", "i64", ["i64", "i64"], tier=tier)
    a = np.arange(100, dtype=np.int64)
    assert add.map(a[::3], 1000).tolist() == [x + 1000 for x in range(0, 100, 3)]
    assert add.map(a[::-1], a).tolist() == [99] * 100
    two_d = np.arange(20, dtype=np.int64).reshape(4, 5)
    assert add.map(two_d[:, 1], two_d[:, 2]).tolist() == [3, 13, 23, 33]


def test_other_buffers_and_out(lib, tier):
    add = lib.function("add_i32", "i32", ["i32", "i32"], tier=tier)
    a = array.array("i", [1, 2, 3])
    b = memoryview(array.array("i", [10, 20, 30]))
    out = array.array("i", [0, 0, 0])
    assert add.map(a, b, out=out) is out and out.tolist() == [11, 22, 33]
    f = fastffi.array("i32", [5, 6, 7])
    assert add.map(f, 1).tolist() == [6, 7, 8]
    strided_out = np.zeros(6, dtype=np.int32)
    add.map(a, b, out=strided_out[::2])
    assert strided_out.tolist() == [11, 0, 22, 0, 33, 0]


def test_validation_happens_before_any_call(lib, tier):
    lib.function("set_counter", "void", ["i64"])(0)
    bump = lib.function("set_counter", "void", ["i64"], tier=tier)
    add = lib.function("add_i32", "i32", ["i32", "i32"], tier=tier)
    i32 = np.arange(4, dtype=np.int32)
    cases = [
        (TypeError, "add_i32.map() takes 2 columns (1 given)", (i32,), {}),
        (TypeError, "add_i32.map() argument 2: column format 'd' does not match i32 (expected 'i')",
         (i32, np.zeros(4)), {}),
        (ValueError, "add_i32.map(): columns have different lengths [3, 4]", (i32, i32[:3]), {}),
        (OverflowError, "add_i32.map() argument 2: 2147483648 does not fit i32", (i32, 2**31), {}),
        (TypeError, "add_i32.map() argument 1: expected a column (a 1-D buffer) or a single value of i32, got str",
         ("abc", i32), {}),
        (ValueError, "add_i32.map() argument 1: a column must be 1-dimensional, got 2 dimensions",
         (np.zeros((2, 2), dtype=np.int32), i32), {}),
        (TypeError, "add_i32.map() out: format 'd' does not match i32 (expected 'i')",
         (i32, i32), {"out": np.zeros(4)}),
        (ValueError, "add_i32.map() out: expected a 1-D buffer of 4 items, got shape (3,)",
         (i32, i32), {"out": np.zeros(3, dtype=np.int32)}),
        (TypeError, "add_i32.map() out: the output buffer is read-only", (i32, i32), {"out": bytes(16)}),
        (ValueError, "add_i32.map(): at least one argument must be a column (values alone give no row count)",
         (1, 2), {}),
        (ValueError, "add_i32.map(): threads must be an int from 1 to 64, got 0", (i32, i32), {"threads": 0}),
    ]
    for exc, message, args, kwargs in cases:
        with pytest.raises(exc) as info:
            add.map(*args, **kwargs)
        assert str(info.value) == message
    with pytest.raises(TypeError, match=r"^set_counter.map\(\) out: set_counter returns void; out must be None$"):
        bump.map(np.arange(3, dtype=np.int64), out=np.zeros(3, dtype=np.int64))
    assert lib.function("get_counter", "i64", [])() == 0     # nothing ran


def test_void_and_zero_rows(lib, tier):
    bump = lib.function("set_counter", "void", ["i64"], tier=tier)
    get = lib.function("get_counter", "i64", [])
    assert bump.map(np.array([5, 6, 41], dtype=np.int64)) is None
    assert get() == 41
    add = lib.function("add_i32", "i32", ["i32", "i32"], tier=tier)
    empty = add.map(np.zeros(0, dtype=np.int32), 3)
    assert empty.shape == (0,) and empty.dtype == np.int32


def test_pointer_and_string_columns_are_addresses(lib, tier):
    strlen = lib.function("len_str", "u64", ["string"], tier=tier)
    words = [b"a\0", b"hello\0", b"\0", b"fastffi!\0"]
    keep = [np.frombuffer(w, dtype=np.uint8) for w in words]
    addresses = np.array([fastffi.address_of(k) for k in keep], dtype=np.uint64)
    assert strlen.map(addresses).tolist() == [1, 5, 0, 8]
    with pytest.raises(TypeError, match=r"column format 'B' does not match string"):
        strlen.map(b"hello")   # bytes are never broadcast, nor read as addresses


def test_structs_by_value_from_arrays_of_structs(lib, tier):
    Point = fastffi.struct("BatchPoint", [("x", "f64"), ("y", "f64")])
    fold = lib.function("fold_point_f64x2", "f64", [Point], tier=struct_tier(tier))
    make = lib.function("make_point_f64x2", Point, ["f64", "f64"], tier=struct_tier(tier))
    pts = fastffi.array(Point, 5)
    for i in range(5):
        pts[i] = Point(x=i * 1.5, y=-i)
    assert fold.map(pts).tolist() == [fold(pts[i]) for i in range(5)]
    dtype = batch.numpy_dtype(Point)
    assert dtype.itemsize == 16 and dtype.names == ("x", "y")
    structured = np.zeros(3, dtype=dtype)
    structured["x"], structured["y"] = [1, 2, 3], [4, 5, 6]
    assert fold.map(structured).tolist() == [fold(Point(x=x, y=y)) for x, y in [(1, 4), (2, 5), (3, 6)]]
    made = make.map(np.array([1.0, 2.0]), 7.0)
    assert made.dtype == dtype and made["x"].tolist() == [1.0, 2.0] and made["y"].tolist() == [7.0, 7.0]
    Big = fastffi.struct("BatchBig", [("a", "i64"), ("b", "i64"), ("c", "i64")])
    mk3 = lib.function("make_s_i64x3", Big, ["i64", "i64", "i64"], tier=struct_tier(tier))
    big = mk3.map(np.arange(4, dtype=np.int64), 10, 20)     # returned in memory: written in place
    assert [tuple(r) for r in big.tolist()] == [(i, 10, 20) for i in range(4)]
    with pytest.raises(TypeError, match="column items are 8 bytes, BatchPoint is 16"):
        fold.map(np.zeros(3))


def test_real_libraries_against_numpy_and_math():
    with fastffi.dlopen("libm.so.6") as libm:
        cos = libm.function("double cos(double)")
        pw = libm.function("double pow(double, double)")
        x = np.linspace(-10, 10, 10001)
        assert np.array_equal(cos.map(x), np.array([math.cos(v) for v in x]))
        assert np.array_equal(pw.map(x, 3.0), np.array([math.pow(v, 3.0) for v in x]))
        ldexp = libm.function("double ldexp(double, int)")
        e = np.arange(-5, 6, dtype=np.int32)
        assert ldexp.map(1.5, e).tolist() == [math.ldexp(1.5, int(k)) for k in e]


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_threads_split_rows_and_agree(lib, tier, threads):
    add = lib.function("add_i64", "i64", ["i64", "i64"], tier=tier)
    a = np.arange(100_003, dtype=np.int64)
    assert np.array_equal(add.map(a, a, threads=threads), a * 2)


def test_threads_really_run_in_parallel():
    libc = fastffi.dlopen(None)
    gettid = libc.function("long syscall(long)")   # SYS_gettid takes no more arguments
    number = {"x86_64": 186, "aarch64": 178}.get(__import__("platform").machine())
    col = np.full(10_000, number, dtype=np.int64)
    assert len(set(gettid.map(col, threads=3).tolist())) == 3
    assert len(set(gettid.map(col, threads=1).tolist())) == 1


def test_closed_library_refuses_map(fixture_lib_path, tier):
    lib = fastffi.dlopen(fixture_lib_path)
    add = lib.function("add_i32", "i32", ["i32", "i32"], tier=tier)
    lib.close()
    with pytest.raises(fastffi.LibraryClosedError, match=r"^add_i32\(\): library .* is closed$"):
        add.map(np.arange(3, dtype=np.int32), 1)


def test_shared_call(lib, tier):
    fn = lib.function("wsum_i8_i16_i32_i64", "i64", ["i8", "i16", "i32", "i64"], tier=tier)
    sb = fn.shared()
    assert sb.format == "=bxhiq" and sb.offsets == (0, 2, 4, 8)
    assert struct.calcsize(sb.format) == len(sb.args) == 16
    for values in [(1, 2, 3, 4), (-128, -32768, -2**31, -2**63), (127, 32767, 2**31 - 1, 2**63 - 1)]:
        struct.pack_into(sb.format, sb.args, 0, *values)
        sb()
        assert struct.unpack("q", sb.result)[0] == fn(*values)
    void = lib.function("set_counter", "void", ["i64"], tier=tier).shared()
    struct.pack_into(void.format, void.args, 0, 1234)
    void()
    assert lib.function("get_counter", "i64", [])() == 1234 and len(void.result) == 0


def test_shared_call_passes_a_bool_byte_other_than_0_1_as_1(lib, tier):
    widen = lib.function("int32_t widen_bool(_Bool x)", tier=tier)
    sb = widen.shared()
    for byte, expected in [(0, 0), (1, 1), (2, 1), (255, 1), (128, 1)]:
        sb.args[0] = byte
        sb()
        assert struct.unpack("i", sb.result)[0] == expected == widen(bool(byte))


def test_bool_columns_holding_other_bytes_are_normalised(lib, tier):
    """A '?' buffer may hold any byte; C's _Bool only 0 or 1 (widen_bool,
    compiled, returns its argument's byte).  map() passes nonzero as 1, as numpy
    reads such a byte and as a call per row converts it -- in every loop."""
    widen = lib.function("int32_t widen_bool(_Bool x)", tier=tier)
    raw = bytearray([0, 1, 2, 255, 128, 0])
    col = memoryview(raw).cast("?")
    assert widen.map(col).tolist() == [0, 1, 1, 1, 1, 0]
    assert widen.map(col).tolist() == [widen(v) for v in col.tolist()]
    assert raw == bytearray([0, 1, 2, 255, 128, 0])   # the caller's buffer is not rewritten
    assert widen.map(col[::-2]).tolist() == [0, 1, 1]   # strided: bytes 0, 128, 2 read backwards
    as_numpy = np.frombuffer(bytes(raw), dtype=np.bool_)
    assert widen.map(as_numpy).tolist() == as_numpy.astype(np.int32).tolist()
    two = lib.function("int32_t widen_bool(_Bool x)", tier=tier)
    big = np.zeros(10000, dtype=np.uint8)
    big[::7] = 7
    assert two.map(big.view(np.bool_)).tolist() == (big != 0).astype(np.int32).tolist()


def test_real_bool_columns_are_passed_in_place():
    ok = np.array([True, False, True])
    assert fastffi._core.bool_column_is_0_1(ok.ctypes.data, 1, 3) is True
    bad = np.array([0, 2, 1], dtype=np.uint8)
    assert fastffi._core.bool_column_is_0_1(bad.ctypes.data, 1, 3) is False
    assert fastffi._core.bool_column_is_0_1(bad.ctypes.data, 2, 2) is True   # rows 0 and 2
    assert fastffi._core.bool_column_is_0_1(bad.ctypes.data + 2, -1, 2) is False


def test_a_str_is_broadcast_to_a_string_column(libc, tier):
    # docs/batch.md: "or one value broadcast to every row" -- a str for a
    # const char * was refused as "expected ... a single value of string, got str".
    strncmp = libc.function("int strncmp(const char *a, const char *b, size_t n)", tier=tier)
    n = np.array([2, 3, 4, 6], dtype=np.uint64)
    got = strncmp.map("abcdef", "abcxyz", n).tolist()
    # C fixes only the sign of a difference (glibc's magnitude differs by architecture):
    # the rows equal what C answers call by call.
    assert got == [strncmp("abcdef", "abcxyz", int(k)) for k in n]
    assert [v < 0 for v in got] == [False, False, True, True] and got[:2] == [0, 0]
    assert strncmp.map("h\u00e9", "h\u00e9llo", np.array([3], dtype=np.uint64)).tolist() == [0]
    with pytest.raises(ValueError, match=r"^strncmp\.map\(\) argument 1: embedded null character$"):
        strncmp.map("a\0b", "x", n)


def test_a_broadcast_string_is_a_private_copy_c_may_write(libc, tier):
    # map sees no const-ness: every row gets one private copy, so C writing
    # through a non-const char * never changes the str passed.
    strncpy = libc.function("char *strncpy(char *d, const char *s, size_t n)", tier=tier)
    dst = "".join(["xxxx", "xxxx"])
    out = strncpy.map(dst, "hello", np.array([1, 3, 5], dtype=np.uint64))
    assert len(set(out.tolist())) == 1 and out[0] != 0
    assert dst == "xxxxxxxx"
