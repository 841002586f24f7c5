"""Fuzz (f): callback conversions.

A callback's result is converted like a call's argument, with the same checks
(never truncated), and a Callback or a Python callable passed for a
function-pointer parameter is converted by the rules of docs/errors.md.

* results: ``cb_id_<T>(cb, x)`` (tests/fixture/callbacks.c) returns ``cb(x)``;
  ``cb`` returns a random Python object.  The oracle is the fixture's
  ``id_<T>`` (for a pointer result, after the one rule results add: an
  address only -- an int, None, a Callback, a Function or fastffi memory -- since a
  buffer's would dangle): a call converting the same object as an argument either returns
  a value -- then the callback's C caller got exactly that -- or raises a
  class and message -- then ``cb_id_<T>`` raises the same class (the
  callback's exception held by the call) with the message prefixed
  ``callback 'f' result: `` instead of ``id_<T>() argument 1: ``.
* wide results: the same for ``cw_id_<T>`` (tests/fixture/callbacks_wide.c) of c64, c128 and
  longdouble, whose callbacks are libffi closures, against the fixture's ``fe_<T>_id``, with
  complex values and numpy.longdouble among the objects; on the tiers that call these types.
* parameters: random objects (Callbacks of the parameter's signature or
  another one, closed ones, plain callables, ints, None, str, bytes,
  buffers) for ``cb_call``'s ``long (*)(long)``; each gives its documented
  result or exact class and message, on every tier."""
from __future__ import annotations

import cmath
import math
import platform

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastffi
import fuzzing
from fastffi.errors import CallbackClosedError

TIERS = fastffi.available_tiers()
TYPES = ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "bool", "ptr"]
C_NAMES = {"ptr": "void *", "bool": "bool"}


class Index:
    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v


class Floaty:
    def __float__(self):
        return 2.5


class Raising:
    def __index__(self):
        raise ArithmeticError("index")


def results():
    return st.one_of(
        st.integers(-(2**65), 2**65),
        st.sampled_from([0, 1, -1, 127, 128, -129, 255, 256, 2**31, 2**32, 2**63, 2**64 - 1, 2**64]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([3.4e38, 3.5e38, 1e-46, -0.0]),
        st.booleans(), st.none(), st.text(max_size=3), st.binary(max_size=3),
        st.integers(-300, 300).map(Index), st.just(Floaty()), st.just(Raising()), st.just(object()),
        st.integers(-3, 3).map(lambda v: fastffi.new("int", v)),
    )


def _canonical(t):
    return C_NAMES.get(t, t)


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b and type(a) is type(b)


@fuzzing.settings_for()
@given(data=st.data())
def test_callback_results_convert_like_arguments(fixture_lib, data):
    t = data.draw(st.sampled_from(TYPES))
    value = data.draw(results())
    oracle = fixture_lib.function(f"id_{t}", _canonical(t), [_canonical(t)])
    try:
        if t == "ptr" and not (value is None or type(value) is int or isinstance(value, fastffi.Box)):
            # A pointer result is an address only: a buffer's would dangle once
            # the callback returns, so no buffer (nor bool, nor __index__) passes.
            freed = " (its memory would be freed when the callback returns)" if isinstance(value, (str, bytes)) else ""
            raise TypeError(f"expected an address for pointer (an int, None, a Callback, a Function or fastffi "
                            f"memory), got {type(value).__name__}{freed}")
        expected = ("ok", oracle(value))
    except (TypeError, OverflowError, ValueError, ArithmeticError) as e:
        msg = str(e)
        prefix = f"id_{t}() argument 1: "
        expected = ("raise", type(e), msg[len(prefix):] if msg.startswith(prefix) else msg)
    x = {"f32": 1.0, "f64": 1.0, "bool": True}.get(t, 1)
    cb = fastffi.callback((_canonical(t), [_canonical(t)]), lambda _: value)
    for tier in TIERS:
        call = fixture_lib.function(f"cb_id_{t}", _canonical(t), ["pointer", _canonical(t)], tier=tier)
        try:
            got = ("ok", call(cb, x))
        except (TypeError, OverflowError, ValueError, ArithmeticError) as e:
            msg = str(e)
            prefix = "callback 'callback' result: "
            got = ("raise", type(e), msg[len(prefix):] if msg.startswith(prefix) else msg)
        assert got[0] == expected[0], (tier, t, value, got, expected)
        if got[0] == "ok":
            assert _same(got[1], expected[1]), (tier, t, value, got, expected)
        else:
            assert got[1:] == expected[1:], (tier, t, value)
        fuzzing.tick("callbacks")


WIDE = {"c64": ("float _Complex", "fe_c64_id"), "c128": ("double _Complex", "fe_c128_id"),
        "longdouble": ("long double", "fe_ld_id")}
#: The tiers that call c64/c128/longdouble (the JIT refuses them: tests/test_floats_ext.py).
WIDE_TIERS = [t for t in TIERS if t != "jit"]
# The bytes C reads of a long double: x87's 10 on x86-64 (the rest is padding), all 16 otherwise.
LD_BYTES = 10 if platform.machine() in ("x86_64", "AMD64") else 16


def wide_results():
    return st.one_of(
        results(),
        st.complex_numbers(allow_nan=True, allow_infinity=True),
        st.sampled_from([complex(3.5e38, 0), complex(0, -3.5e38), complex(3.4e38, 1e-46), 1j]),
        st.floats(allow_nan=False, allow_infinity=True).map(np.longdouble),
        st.integers(1, 10**6).map(lambda n: np.longdouble(1) / n),
        st.sampled_from([np.float32(1.5), np.complex128(1 + 2j), np.int8(3)]),
    )


def _same_wide(a, b):
    if isinstance(a, np.longdouble) or isinstance(b, np.longdouble):
        return type(a) is type(b) and a.tobytes()[:LD_BYTES] == b.tobytes()[:LD_BYTES]
    if isinstance(a, complex) and isinstance(b, complex) and cmath.isnan(a):
        return cmath.isnan(b) and [math.isnan(p) for p in (a.real, a.imag)] == [math.isnan(p) for p in
                                                                                (b.real, b.imag)]
    return a == b and type(a) is type(b)


@fuzzing.settings_for()
@given(data=st.data())
def test_wide_callback_results_convert_like_arguments(fixture_lib, data):
    t = data.draw(st.sampled_from(sorted(WIDE)))
    ctype, oracle_name = WIDE[t]
    value = data.draw(wide_results())
    oracle = fixture_lib.function(f"{ctype} {oracle_name}({ctype})")
    try:
        expected = ("ok", oracle(value))
    except (TypeError, OverflowError, ValueError, ArithmeticError) as e:
        msg = str(e)
        prefix = f"{oracle_name}() argument 1: "
        expected = ("raise", type(e), msg[len(prefix):] if msg.startswith(prefix) else msg)
    cb = fastffi.callback(f"{ctype} (*)({ctype})", lambda _: value)
    assert cb.tier == "libffi"
    for tier in WIDE_TIERS:
        call = fixture_lib.function(f"{ctype} cw_id_{t}({ctype} (*cb)({ctype}), {ctype} x)", tier=tier)
        try:
            got = ("ok", call(cb, 1))
        except (TypeError, OverflowError, ValueError, ArithmeticError) as e:
            msg = str(e)
            prefix = "callback 'callback' result: "
            got = ("raise", type(e), msg[len(prefix):] if msg.startswith(prefix) else msg)
        assert got[0] == expected[0], (tier, t, value, got, expected)
        if got[0] == "ok":
            assert _same_wide(got[1], expected[1]), (tier, t, value, got, expected)
        else:
            assert got[1:] == expected[1:], (tier, t, value)
        fuzzing.tick("callbacks")


def parameters():
    same = st.builds(lambda k: fastffi.callback("long f(long)", lambda x: x + k), st.integers(-5, 5))
    other = st.sampled_from(["int g(int)", "long g(long, long)", "void g(long)", "double g(double)",
                             "long g(const char *)"]).map(lambda s: fastffi.callback(s, lambda *a: 0))

    def closed(k):
        cb = fastffi.callback("long f(long)", lambda x: x)
        cb.close()
        return cb

    return st.one_of(
        same.map(lambda cb: ("same", cb)), other.map(lambda cb: ("other", cb)),
        st.just(0).map(lambda _: ("closed", closed(0))),
        st.integers(-7, 7).map(lambda k: ("callable", lambda x: x * k)),
        st.just(("none", None)),
        st.sampled_from([("str", "f"), ("bytes", b"f"), ("float", 1.5), ("list", [1])]),
    )


@fuzzing.settings_for()
@given(arg=parameters(), x=st.integers(-(2**40), 2**40))
def test_function_pointer_parameter_conversion(fixture_lib, arg, x):
    what, obj = arg
    for tier in TIERS:
        call = fixture_lib.function("long cb_call_or(long (*cb)(long), long x)", tier=tier)
        if what == "same":
            assert call(obj, x) == obj(x)
        elif what == "callable":
            assert call(obj, x) == obj(x)
        elif what == "none":
            assert call(obj, x) == x
        elif what == "closed":
            with pytest.raises(CallbackClosedError) as info:
                call(obj, x)
            assert str(info.value) == "cb_call_or() argument 1: callback 'f' is closed"
        elif what == "other":
            with pytest.raises(TypeError) as info:
                call(obj, x)
            assert str(info.value) == (f"cb_call_or() argument 1: expected a callback of type i64 (*)(i64), "
                                       f"got callback 'g' of type {obj.signature}")
        elif what == "bytes":
            with pytest.raises(TypeError) as info:
                call(obj, x)
            assert str(info.value) == ("cb_call_or() argument 1: bytes is read-only; pass a bytearray or "
                                       "declare the parameter const")
        else:
            with pytest.raises(TypeError) as info:
                call(obj, x)
            assert str(info.value) == f"cb_call_or() argument 1: expected pointer, got {type(obj).__name__}"
        fuzzing.tick("callbacks")
