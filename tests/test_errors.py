"""Every message of docs/errors.md, asserted exactly (class and text), on every tier."""
from __future__ import annotations

import array
import ctypes

import numpy as np
import pytest

import fastffi
from conftest import struct_tier


@pytest.fixture
def mini(mini_path):
    with fastffi.dlopen(mini_path) as handle:
        yield handle


ErrPoint = fastffi.struct("ErrPoint", [("x", "f64"), ("y", "f64")])
ErrOther = fastffi.struct("ErrOther", [("x", "f64"), ("y", "f64")])


class Index:
    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v


class Float:
    def __init__(self, v):
        self.v = v

    def __float__(self):
        return self.v


def ident(lib, t, tier):
    return lib.function(f"mini_id_{t}", t, [t], tier=tier)


def raises(cls, message, fn, *args, **kwargs):
    with pytest.raises(cls) as info:
        fn(*args, **kwargs)
    assert type(info.value) is cls or issubclass(type(info.value), cls)
    assert str(info.value) == message
    return info.value


# ---------------------------------------------------------------- calls

def test_wrong_argument_count(mini, tier):
    add = mini.function("mini_add_i32", "i32", ["i32", "i32"], tier=tier)
    raises(TypeError, "mini_add_i32() takes 2 arguments (1 given)", add, 1)
    raises(TypeError, "mini_add_i32() takes 2 arguments (3 given)", add, 1, 2, 3)
    raises(TypeError, "mini_add_i32() takes 2 arguments (0 given)", add)
    one = ident(mini, "f64", tier)
    raises(TypeError, "mini_id_f64() takes 1 argument (0 given)", one)
    raises(TypeError, "mini_id_f64() takes 1 argument (2 given)", one, 1.0, 2.0)
    noop = mini.function("void mini_noop(void)", tier=tier)
    raises(TypeError, "mini_noop() takes 0 arguments (1 given)", noop, None)
    named = fastffi.function(mini.symbol("mini_add_i32"), "i32", ["i32", "i32"], name="add", tier=tier)
    raises(TypeError, "add() takes 2 arguments (1 given)", named, 1)
    point = mini.function("mini_point_dot", "f64", [ErrPoint, ErrPoint], tier=struct_tier(tier))
    raises(TypeError, "mini_point_dot() takes 2 arguments (1 given)", point, ErrPoint())


def test_keyword_arguments(mini, tier):
    add = mini.function("mini_add_i32", "i32", ["i32", "i32"], tier=tier)
    raises(TypeError, "mini_add_i32() takes no keyword arguments", add, 1, 2, b=3)
    noop = mini.function("mini_noop", "void", [], tier=tier)
    raises(TypeError, "mini_noop() takes no keyword arguments", noop, x=1)


@pytest.mark.parametrize("t, value, got", [
    ("i32", 1.5, "float"), ("i32", "1", "str"), ("i32", None, "NoneType"),
    ("i8", b"\x01", "bytes"), ("u64", 2.0, "float"), ("u16", [1], "list"),
    ("i64", np.float64(1.0), "float64"),
    ("f64", "1.0", "str"), ("f64", None, "NoneType"), ("f32", b"1", "bytes"), ("f32", 1j, "complex"),
    ("bool", 1.0, "float"), ("bool", "yes", "str"), ("bool", None, "NoneType"),
    ("pointer", 1.5, "float"), ("pointer", "text", "str"), ("pointer", object(), "object"),
    ("string", 5, "int"), ("string", 1.5, "float"), ("string", object(), "object"),
])
def test_wrong_python_type(mini, tier, t, value, got):
    fn = ident(mini, t, tier)
    raises(TypeError, f"mini_id_{t}() argument 1: expected {t}, got {got}", fn, value)


def test_wrong_python_type_position_and_struct(mini, tier):
    add = mini.function("mini_add_i32", "i32", ["i32", "i32"], tier=tier)
    raises(TypeError, "mini_add_i32() argument 2: expected i32, got float", add, 1, 2.0)
    dot = mini.function("mini_point_dot", "f64", [ErrPoint, ErrPoint], tier=struct_tier(tier))
    p = ErrPoint(x=1.0, y=2.0)
    assert dot(p, p) == 5.0
    raises(TypeError, "mini_point_dot() argument 2: expected ErrPoint, got ErrOther", dot, p, ErrOther())
    raises(TypeError, "mini_point_dot() argument 1: expected ErrPoint, got tuple", dot, (1.0, 2.0), p)
    raises(TypeError, "mini_point_dot() argument 1: expected ErrPoint, got NoneType", dot, None, p)
    sum_u8 = mini.function("mini_sum_u8", "i64", ["pointer", "u64"], tier=tier)
    raises(TypeError, "mini_sum_u8() argument 1: expected pointer, got float", sum_u8, 2.5, 0)


@pytest.mark.parametrize("t, value, shown", [
    ("i8", 128, "128"), ("i8", -129, "-129"),
    ("i16", 32768, "32768"), ("i32", 2147483648, "2147483648"), ("i32", -2147483649, "-2147483649"),
    ("i64", 2**63, "9223372036854775808"),
    ("u8", 256, "256"), ("u8", -1, "-1"), ("u16", 65536, "65536"), ("u32", -1, "-1"),
    ("u32", 2**32, "4294967296"), ("u64", 2**64, "18446744073709551616"), ("u64", -1, "-1"),
    ("bool", 2, "2"), ("bool", -1, "-1"),
    ("f32", 1e39, "1e+39"), ("f32", -3.5e38, "-3.5e+38"),
    ("pointer", -1, "-1"), ("pointer", 2**64, "18446744073709551616"),
    # the value is shown after __index__ / __float__
    ("i32", np.int64(2**40), "1099511627776"), ("u8", Index(300), "300"),
    ("f32", Float(1e40), "1e+40"), ("f32", np.float64(4e38), "4e+38"),
])
def test_out_of_range(mini, tier, t, value, shown):
    fn = ident(mini, t, tier)
    raises(OverflowError, f"mini_id_{t}() argument 1: {shown} does not fit {t}", fn, value)


def test_out_of_range_position(mini, tier):
    add = mini.function("mini_add_i32", "i32", ["i32", "i32"], tier=tier)
    raises(OverflowError, "mini_add_i32() argument 2: 2147483653 does not fit i32", add, 0, 2147483653)
    with fastffi.dlopen("libc.so.6") as libc:
        c_abs = libc.function("int abs(int)", tier=tier)
        raises(OverflowError, "abs() argument 1: 2147483653 does not fit i32", c_abs, 2147483653)


def test_f32_inf_and_nan_pass(mini, tier):
    f = ident(mini, "f32", tier)
    assert f(float("inf")) == float("inf")
    assert f(float("-inf")) == float("-inf")
    assert f(float("nan")) != f(float("nan"))


def test_embedded_null(mini, tier):
    s = ident(mini, "string", tier)
    raises(ValueError, "mini_id_string() argument 1: embedded null character", s, "a\0b")
    two = mini.function("mini_sum_u8", "i64", ["pointer", "u64"], tier=tier)
    assert two(b"a\0b", 3) == ord("a") + ord("b")  # bytes to a pointer are a plain buffer
    assert s(b"a\0b") == "a"  # bytes pass as is, the C string ends at the NUL


def test_buffer_not_c_contiguous(mini, tier):
    sum_u8 = mini.function("mini_sum_u8", "i64", ["pointer", "u64"], tier=tier)
    raises(ValueError, "mini_sum_u8() argument 1: buffer is not C-contiguous",
           sum_u8, np.arange(10, dtype=np.uint8)[::2], 5)
    raises(ValueError, "mini_sum_u8() argument 1: buffer is not C-contiguous",
           sum_u8, memoryview(b"abcdef")[::2], 3)
    raises(ValueError, "mini_sum_u8() argument 1: buffer is not C-contiguous",
           sum_u8, np.zeros((4, 4), dtype=np.uint8).T, 16)
    assert sum_u8(array.array("B", [1, 2, 3]), 3) == 6


def test_closed_library(mini_path, tier):
    lib = fastffi.dlopen(mini_path)
    add = lib.function("mini_add_i32", "i32", ["i32", "i32"], tier=tier)
    lib.close()
    raises(fastffi.LibraryClosedError, f"mini_add_i32(): library {mini_path!r} is closed", add, 1, 2)


# ---------------------------------------------------------------- libraries and symbols

def test_dlopen_fails():
    name = "/nonexistent/libfastffi_errors.so"
    with pytest.raises(OSError) as oracle:
        ctypes.CDLL(name)
    raises(fastffi.LibraryError, f"cannot load library {name!r}: {oracle.value}", fastffi.dlopen, name)


def test_missing_symbol(mini_path):
    with fastffi.dlopen("libc.so.6") as libc:
        raises(fastffi.SymbolError, "symbol 'fastffi_nope' not found in 'libc.so.6'", libc.symbol, "fastffi_nope")
    with fastffi.dlopen(mini_path) as lib:
        raises(fastffi.SymbolError, f"symbol 'mini_nope' not found in {mini_path!r}",
               lib.function, "int mini_nope(int)")


def test_function_address_null():
    raises(ValueError, "function address must not be NULL", fastffi.function, 0, "i32", ["i32"], name="f")


def test_from_address_null():
    raises(ValueError, "ErrPoint.from_address(): address must not be NULL", ErrPoint.from_address, 0)
    u = fastffi.union("ErrUnion", [("i", "i64"), ("d", "f64")])
    raises(ValueError, "ErrUnion.from_address(): address must not be NULL", u.from_address, 0)


@pytest.mark.parametrize("helper, args", [
    ("to_bytes", (0, 1)), ("view", (0, 8)), ("to_string", (0,)), ("to_string", (0, 4)),
    ("read", (0, "i32")), ("write", (0, "u8", 1)), ("write_bytes", (0, b"data")),
])
def test_null_pointer_helpers(helper, args):
    raises(ValueError, f"{helper}(): NULL pointer", getattr(fastffi, helper), *args)


# ---------------------------------------------------------------- signatures and tiers

def test_unknown_type_name(mini):
    raises(fastffi.SignatureError, "unknown type 'nope'", mini.function, "mini_noop", "nope", [])
    raises(fastffi.SignatureError, "unknown type 'int33'", mini.function, "mini_id_i32", "i32", ["int33"])
    raises(fastffi.SignatureError, "unknown type 'nope'", fastffi.new, "nope")
    raises(fastffi.SignatureError, "unknown type 'nope'", fastffi.array, "nope", 3)
    raises(fastffi.SignatureError, "unknown type 'nope'", fastffi.struct, "ErrBad", [("a", "nope")])


def test_not_supported(mini):
    decl = "double mini_id_f64(long double _Complex x)"
    raises(fastffi.SignatureError,
           "long double _Complex is not supported yet\n"
           "double mini_id_f64(long double _Complex x)\n"
           "                   ^",
           mini.function, decl)


def test_void_argument(mini):
    raises(fastffi.SignatureError, "void is not a valid argument type", mini.function, "mini_noop", "void", ["void"])


Empty = fastffi.struct("ErrEmpty", [])


@pytest.mark.parametrize("requested, argtypes, reason", [
    ("jit", [ErrPoint, ErrPoint], "argument 1 is a struct by value (the JIT takes scalars only)"),
    ("jit", ["i32"] * 9, "9 arguments (the JIT takes at most 8)"),
    ("plan", [Empty, Empty], "argument 1: ErrEmpty is an empty struct (not supported by value)"),
])
def test_exact_tier_refused(mini, requested, argtypes, reason, monkeypatch):
    """An exact request the tier refuses raises SignatureError with the tier's reason."""
    monkeypatch.delenv("FASTFFI_TIER", raising=False)
    if requested not in fastffi.available_tiers():
        # Unavailable here (e.g. no emitter): a plain FFIError with the platform's reason.
        with pytest.raises(fastffi.FFIError) as info:
            mini.function("mini_point_dot", "f64", argtypes, tier=requested)
        assert type(info.value) is fastffi.FFIError
        assert str(info.value).startswith(f"mini_point_dot: tier {requested!r} refused: ")
        return
    raises(fastffi.SignatureError, f"mini_point_dot: tier {requested!r} refused: {reason}",
           mini.function, "mini_point_dot", "f64", argtypes, tier=requested)


def test_exact_tier_refused_union_by_value_on_libffi(mini, monkeypatch):
    monkeypatch.delenv("FASTFFI_TIER", raising=False)
    u = fastffi.union("ErrU", [("i", "i64"), ("d", "f64")])
    with pytest.raises(fastffi.FFIError) as info:
        mini.function("mini_id_i64", "i64", [u], tier="libffi")
    prefix = "mini_id_i64: tier 'libffi' refused: "
    assert str(info.value).startswith(prefix) and len(str(info.value)) > len(prefix)


def test_unknown_tier_value(mini):
    raises(ValueError, "unknown tier 'turbo' (expected 'auto', 'jit', 'plan' or 'libffi')",
           mini.function, "mini_noop", "void", [], tier="turbo")


def test_unknown_env_tier(mini, monkeypatch):
    monkeypatch.setenv("FASTFFI_TIER", "turbo")
    raises(ValueError, "FASTFFI_TIER='turbo' is not a tier (expected 'jit', 'plan' or 'libffi')",
           mini.function, "mini_noop", "void", [])
