"""Fuzz (c): argument conversion, random Python objects into random signatures on every tier.

The signatures are fixture functions whose result is an exact function of the bits they got
(tests/fixture): ``sum_8_i64``/``sum_12_i64`` (integer registers, then the stack) declared
with any mix of i64/u64/pointer parameters, ``mix_10i_10d`` (both register files spill),
``id_<T>`` for every scalar, ``len_str`` for strings and ``sum_u8_buf`` for buffers.  The
arguments mix fitting values, out-of-range and wrong-type ones, numpy scalars, buffers of
every kind, and hostile objects: ``__index__``/``__float__`` that raise, return the wrong
type, or resize a bytearray (a subclass) passed earlier in the same call -- which must then
fail with BufferError, since the call holds its export -- and on 3.12+ ``__buffer__``
exporters whose ``__release_buffer__`` frees their memory.  Each example is called on every
tier (and with release_gil at random); every tier must give the exact result a Python model
of the C function computes, or raise the same documented class with the same message
(TypeError, OverflowError, ValueError, BufferError, or the hostile object's own exception).

Objects whose ``__index__`` closes the library are in test_fuzz_known_crashes.py: today that
is a use after dlclose on every tier (issue 12 item 1), a crash, so it runs in a child."""
from __future__ import annotations

import array
import itertools
import math
import struct
import sys

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fastffi
import fuzzing

TIERS = fastffi.available_tiers()
U64 = 2**64
DOCUMENTED = (TypeError, OverflowError, ValueError, BufferError)


class Boom(Exception):
    """Raised by a hostile object: must come out of the call unchanged."""


class RaisingIndex:
    def __index__(self):
        raise Boom("index")


class WrongIndex:
    def __index__(self):
        return "not an int"


class RaisingFloat:
    def __float__(self):
        raise Boom("float")


class WrongFloat:
    def __float__(self):
        return 1


class Index:
    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v

    def __repr__(self):
        return f"Index({self.v})"


class Victim(bytearray):
    """A bytearray subclass that Resizer objects resize in the middle of a call."""


class Resizer:
    """An __index__ that resizes ``victim`` (a Victim passed in the same call) and returns v."""

    def __init__(self, victim, v, how):
        self.victim, self.v, self.how = victim, v, how
        self.changed = False   # whether a resize went through (clearing an empty one is none)

    def __index__(self):
        before = len(self.victim)
        if self.how == "grow":
            self.victim.extend(b"\x07" * 4096)   # moves the data
        else:
            del self.victim[:]
        self.changed |= len(self.victim) != before
        return self.v

    def __repr__(self):
        return f"Resizer({self.how})"


if sys.version_info >= (3, 12):
    class Exporter:
        """A PEP 688 exporter whose __release_buffer__ frees the memory it handed out."""

        def __init__(self, data):
            self.backing = bytearray(data)
            self.released = False
            self.addresses = []   # where each export pointed: each tier's call gets its own

        def __buffer__(self, flags):
            self.addresses.append(fastffi.address_of(self.backing))
            return memoryview(self.backing)

        def __release_buffer__(self, view):
            view.release()
            self.backing.extend(b"\x07" * 4096)   # reallocates: the old pointer dangles
            self.released = True


def _raises(exc):
    return ("raise", exc)


def int_value(draw, kind, victim):
    """(object, model) for an i64/u64 slot; model is ("ok", bits), ("raise", class) or None."""
    lo, hi = (-2**63, 2**63) if kind == "i64" else (0, 2**64)
    choice = draw(st.integers(0, 11))
    if choice <= 3:
        v = draw(st.integers(lo, hi - 1))
        return v, ("ok", v % U64)
    if choice == 4:
        v = draw(st.one_of(st.integers(hi, hi + 2**70), st.integers(lo - 2**70, lo - 1)))
        return v, _raises(OverflowError)
    if choice == 5:
        v = draw(st.integers(lo, hi - 1))
        return Index(v), ("ok", v % U64)
    if choice == 6:
        return draw(st.sampled_from([RaisingIndex(), WrongIndex()])), None
    if choice == 7:
        return draw(st.sampled_from([1.5, None, "7", b"7", [], np.float64(2.0)])), _raises(TypeError)
    if choice == 8:
        v = draw(st.sampled_from([np.int8(-5), np.uint32(7), np.int64(-2**63), np.uint64(2**64 - 1), True]))
        x = int(v)
        return v, ("ok", x % U64) if lo <= x < hi else _raises(OverflowError)
    if choice >= 9 and victim is not None:
        v = draw(st.integers(0, 100))
        return Resizer(victim, v, draw(st.sampled_from(["grow", "clear"]))), None
    return 0, ("ok", 0)


def buffer_value(draw, victim):
    """(object, model) for a pointer slot given a buffer (or not)."""
    choice = draw(st.integers(0, 13))
    data = draw(st.binary(min_size=1, max_size=16))
    if choice == 0:
        return None, ("ok", 0)
    if choice == 1:
        v = draw(st.integers(0, U64 - 1))
        return v, ("ok", v)
    if choice == 2:
        return draw(st.sampled_from([-1, U64, 2**100])), _raises(OverflowError)
    if choice == 3:
        return draw(st.sampled_from([1.0, "str", object(), 1j])), _raises(TypeError)
    if choice == 4:
        return memoryview(bytearray(data * 4))[::2], _raises(ValueError)   # >= 2 items, stride 2
    if choice == 5 and victim is not None:
        return victim, "address"
    if choice == 6 and sys.version_info >= (3, 12):
        return Exporter(data), "address"
    makers = [bytes, bytearray, lambda d: memoryview(bytearray(d)), lambda d: memoryview(d).toreadonly(),
              lambda d: array.array("B", d), lambda d: np.frombuffer(bytearray(d), dtype=np.uint8),
              lambda d: fastffi.array("u8", list(d)), lambda d: fastffi.new("u8", d[0])]
    return draw(st.sampled_from(makers))(data), "address"


def addresses(obj):
    """The addresses a call may have been given for ``obj``: an Exporter moves its memory
    each time it is released, so each tier's call sees another one."""
    if sys.version_info >= (3, 12) and isinstance(obj, Exporter):
        return obj.addresses
    return [fastffi.address_of(obj)]


def call_all_tiers(lib, name, restype, argtypes, args, release_gil):
    """{tier: ("ok", result) | ("raise", type, message)} for every tier taking the signature."""
    out = {}
    for tier in TIERS:
        try:
            fn = lib.function(name, restype, argtypes, tier=tier, release_gil=release_gil)
        except fastffi.FFIError as e:
            assert f"tier {tier!r} refused" in str(e), e
            continue
        try:
            out[tier] = ("ok", fn(*args))
        except (Boom,) + DOCUMENTED as e:
            out[tier] = ("raise", type(e), str(e))
    assert "plan" in out or "libffi" in out, "no tier took the signature"
    return out


def _same(a, b) -> bool:
    if a[0] == b[0] == "ok" and isinstance(a[1], float) and isinstance(b[1], float):
        return a[1] == b[1] and math.copysign(1, a[1]) == math.copysign(1, b[1]) or \
            math.isnan(a[1]) and math.isnan(b[1])
    return a == b


def check(outcomes, model, args):
    """Every tier agrees; with a model, the agreed outcome is the model's."""
    first = next(iter(outcomes.values()))
    for got in outcomes.values():
        assert _same(got, first), f"tiers disagree on {args!r}: {outcomes}"
    if model is None:
        return
    if model[0] == "raise":
        assert first[0] == "raise" and issubclass(first[1], model[1]), (args, first, model)
    else:
        assert _same(first, model), (args, first, model)


def _fold(bits):
    s = sum((k + 1) * b for k, b in enumerate(bits)) % U64
    return s - U64 if s >= 2**63 else s


@fuzzing.settings_for()
@given(data=st.data())
def test_integer_and_pointer_slots(fixture_lib, data):
    draw = data.draw
    n = draw(st.sampled_from([8, 12]))
    argtypes = draw(st.lists(st.sampled_from(["i64", "u64", "pointer"]), min_size=n, max_size=n))
    victim = Victim(draw(st.binary(min_size=1, max_size=32))) if draw(st.booleans()) else None
    args, models = [], []
    for t in argtypes:
        obj, m = int_value(draw, t, victim) if t != "pointer" else buffer_value(draw, victim)
        args.append(obj)
        models.append(m)
    outcomes = call_all_tiers(fixture_lib, f"sum_{n}_i64", "i64", argtypes, args, draw(st.booleans()))
    resizers = [i for i, a in enumerate(args) if isinstance(a, Resizer)]
    taken = [i for i, a in enumerate(args) if a is victim]
    # A resize after the victim was taken must fail: the call holds the export.
    assert not any(args[r].changed for r in resizers if taken and r > taken[0]), \
        f"a resize of an exported buffer went through: {args!r}"
    # The model: the first failing slot decides, else the exact fold of the bits.
    expected = next((m for m in models if m is None or m[0] == "raise"), "fold")
    if expected == "fold":
        choices = [addresses(a) if m == "address" else [m[1]] for a, m in zip(args, models)]
        folds = {_fold(bits) for bits in itertools.product(*choices)}
        if len(folds) > 1:
            # An Exporter in the call: each tier got the address its own export had.
            assert all(o[0] == "ok" and o[1] in folds for o in outcomes.values()), (args, outcomes, folds)
            fuzzing.tick("arguments", len(outcomes))
            return
        expected = ("ok", folds.pop())
    moving = any(sys.version_info >= (3, 12) and isinstance(a, Exporter) for a in args)
    if moving or taken and resizers and resizers[0] < taken[0]:
        # A resize before the victim is taken is legitimate and moves it, and an Exporter
        # moves its memory on each release: each tier then passes another address.  Only the
        # classes are checked.
        assert all(o[0] == "ok" or issubclass(o[1], (Boom,) + DOCUMENTED) for o in outcomes.values())
        fuzzing.tick("arguments", len(outcomes))
        return
    check(outcomes, expected if not resizers else None, args)
    fuzzing.tick("arguments", len(outcomes))


def float_value(draw):
    choice = draw(st.integers(0, 7))
    if choice <= 2:
        v = draw(st.floats())
        return v, ("ok", v)
    if choice == 3:
        v = draw(st.integers(-2**53, 2**53))
        return v, ("ok", float(v))
    if choice == 4:
        return draw(st.sampled_from([RaisingFloat(), WrongFloat(), RaisingIndex()])), None
    if choice == 5:
        return draw(st.sampled_from([None, "1.0", b"", []])), _raises(TypeError)
    if choice == 6:
        return draw(st.sampled_from([10**400, -10**309])), _raises(OverflowError)
    v = draw(st.sampled_from([np.float32(1.5), np.float64(-0.0), np.int16(-3), Index(12)]))
    return v, ("ok", float(v) if not isinstance(v, Index) else 12.0)


@fuzzing.settings_for()
@given(data=st.data())
def test_mixed_register_files_spilling_to_the_stack(fixture_lib, data):
    draw = data.draw
    args, models = [], []
    for k in range(20):
        obj, m = int_value(draw, "i64", None) if k % 2 == 0 else float_value(draw)
        args.append(obj)
        models.append(m)
    argtypes = ["i64", "f64"] * 10
    outcomes = call_all_tiers(fixture_lib, "mix_10i_10d", "f64", argtypes, args, draw(st.booleans()))
    expected = next((m for m in models if m is None or m[0] == "raise"), "fold")
    if expected == "fold":
        s = 0.0
        for j in range(10):
            i = models[2 * j][1]
            s += float(i - U64 if i >= 2**63 else i) * float(2 * j + 1)
            s += models[2 * j + 1][1] * float(2 * j + 2)
        expected = ("ok", s)
    check(outcomes, expected, args)
    fuzzing.tick("arguments", len(outcomes))


SCALARS = {"i8": (-2**7, 2**7), "i16": (-2**15, 2**15), "i32": (-2**31, 2**31), "u8": (0, 2**8),
           "u16": (0, 2**16), "u32": (0, 2**32), "i64": (-2**63, 2**63), "u64": (0, 2**64)}


@fuzzing.settings_for()
@given(data=st.data())
def test_every_scalar_identity(fixture_lib, data):
    draw = data.draw
    kind = draw(st.sampled_from(sorted(SCALARS) + ["f32", "f64", "bool"]))
    if kind in SCALARS:
        lo, hi = SCALARS[kind]
        v = draw(st.one_of(st.integers(lo, hi - 1), st.integers(lo - 2**66, hi + 2**66),
                           st.sampled_from([Index(lo), Index(hi), RaisingIndex(), WrongIndex(), 0.0, None, True])))
        x = getattr(v, "v", v)
        if isinstance(v, (RaisingIndex, WrongIndex)):
            model = None
        elif isinstance(x, float) or x is None:
            model = _raises(TypeError)
        else:
            model = ("ok", int(x)) if lo <= x < hi else _raises(OverflowError)
    elif kind == "bool":
        v = draw(st.sampled_from([True, False, 0, 1, 2, -1, np.bool_(True), None, 1.0, Index(1)]))
        model = None   # cross-tier agreement only (the table's rules: bool, 0/1, numpy.bool_)
    else:
        v = draw(st.one_of(st.floats(), st.integers(-2**70, 2**70), st.sampled_from([RaisingFloat(), WrongFloat()])))
        if isinstance(v, (RaisingFloat, WrongFloat)):
            model = None
        elif kind == "f64":
            model = ("ok", float(v))
        else:
            try:
                model = ("ok", struct.unpack("<f", struct.pack("<f", float(v)))[0])
            except OverflowError:
                model = _raises(OverflowError)
    outcomes = call_all_tiers(fixture_lib, f"id_{kind}", kind, [kind], [v], draw(st.booleans()))
    check(outcomes, model, [v])
    fuzzing.tick("arguments", len(outcomes))


@fuzzing.settings_for()
@given(data=st.data())
def test_strings_and_buffers(fixture_lib, data):
    draw = data.draw
    text = draw(st.text(max_size=12))
    raw = draw(st.binary(max_size=12))
    # string: str, bytes and bytearray (CPython keeps a NUL after their data), None.  Other
    # buffers have no NUL guaranteed: issue 12 item 5, in test_fuzz_known_crashes.py.
    s = draw(st.sampled_from([text, raw, bytearray(raw), None, Victim(raw), 5, 1.0]))
    if s is None:
        model = ("ok", -1)
    elif isinstance(s, str):
        try:
            enc = s.encode("utf-8")
        except UnicodeEncodeError:
            enc = None
        model = None if enc is None else _raises(ValueError) if b"\0" in enc else ("ok", len(enc))
    elif isinstance(s, (bytes, bytearray)):
        model = ("ok", bytes(s).index(b"\0") if b"\0" in s else len(s))
    else:
        model = _raises(TypeError)
    check(call_all_tiers(fixture_lib, "len_str", "i64", ["string"], [s], draw(st.booleans())), model, [s])
    # A buffer and its length, with the length an object that may resize the buffer.
    victim = Victim(raw + b"\x01")
    n = len(victim)
    how = draw(st.sampled_from(["int", "grow", "clear"]))
    count = n if how == "int" else Resizer(victim, n, how)
    before = bytes(victim)
    outcomes = call_all_tiers(fixture_lib, "sum_u8_buf", "u64", ["pointer", "i64"], [victim, count], False)
    if how == "int":
        check(outcomes, ("ok", sum((k + 1) * b for k, b in enumerate(before)) % U64), [victim, count])
    else:
        # The first tier's __index__ tried the resize; it must have been refused.
        check(outcomes, _raises(BufferError), [victim, count])
        assert bytes(victim) == before
    calls = 2 * len(outcomes)
    if sys.version_info >= (3, 12):
        # The C side reads the export: released before the call, it would read freed memory.
        data = raw + b"\x01"
        outcomes = call_all_tiers(fixture_lib, "sum_u8_buf", "u64", ["pointer", "i64"], [Exporter(data), len(data)],
                                  draw(st.booleans()))
        check(outcomes, ("ok", sum((k + 1) * b for k, b in enumerate(data)) % U64), [data])
        calls += len(outcomes)
    fuzzing.tick("arguments", calls)


# The wide kinds: the fixture's identities (tests/fixture/int128.c, floats_ext.c) and their ranges.
WIDE_IDS = {"i128": "i128_id", "u128": "u128_id", "c64": "fe_c64_id", "c128": "fe_c128_id", "longdouble": "fe_ld_id"}
WIDE_INTS = {"i128": (-2**127, 2**127), "u128": (0, 2**128)}
#: x87 extended keeps 10 meaningful bytes in its 16 (x86-64 psABI 3.1.2); binary128 all 16.
LD_BYTES = 10 if np.finfo(np.longdouble).nmant == 63 else 16


def f32_round(x: float):
    """x rounded to float32 as C does, or None where a finite x overflows (struct packs like
    the conversion: within half an ulp of FLT_MAX rounds to it)."""
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        return None


def random_longdouble(draw):
    """A numpy.longdouble from random bits: every binary128 pattern, or on x87 the canonical
    encodings (explicit integer bit set exactly when the exponent is not zero)."""
    if LD_BYTES == 16:
        return np.frombuffer(draw(st.binary(min_size=16, max_size=16)), dtype=np.longdouble)[0]
    sign_exp = draw(st.integers(0, 2**16 - 1))
    mant = draw(st.integers(0, 2**63 - 1)) | ((1 << 63) if sign_exp & 0x7fff else 0)
    raw = mant.to_bytes(8, "little") + sign_exp.to_bytes(2, "little") + bytes(6)
    return np.frombuffer(raw, dtype=np.longdouble)[0]


def ld_of_int(v: int):
    """An int below 2**64 in magnitude as a longdouble, exactly (both halves are exact)."""
    a = abs(v)
    x = np.longdouble(a >> 32) * np.longdouble(2**32) + np.longdouble(a & 0xffffffff)
    return -x if v < 0 else x


def wide_value(draw, kind):
    """(object, model) for a wide-kind slot: ("ok", expected result) or ("raise", class) or None."""
    if kind in WIDE_INTS:
        lo, hi = WIDE_INTS[kind]
        v = draw(st.one_of(st.integers(lo, hi - 1), st.integers(lo - 2**130, hi + 2**130),
                           st.sampled_from([lo, hi - 1, lo - 1, hi, Index(lo), Index(hi), np.int64(-2**63),
                                            np.uint64(2**64 - 1), True, RaisingIndex(), WrongIndex(),
                                            1.0, None, "1", 1j, np.float64(1.0)])))
        x = getattr(v, "v", v)
        if isinstance(v, (RaisingIndex, WrongIndex)):
            return v, None
        if not isinstance(x, (int, np.integer)):
            return v, _raises(TypeError)
        return v, ("ok", int(x)) if lo <= int(x) < hi else _raises(OverflowError)
    if kind == "longdouble":
        choice = draw(st.integers(0, 5))
        if choice <= 1:
            v = random_longdouble(draw)
            return v, ("ok", v)
        if choice == 2:
            v = draw(st.floats())
            return v, ("ok", np.longdouble(v))
        if choice == 3:
            v = draw(st.one_of(st.integers(-2**64 + 1, 2**64 - 1), st.sampled_from([2**64, -2**64, 10**400])))
            return v, ("ok", ld_of_int(v)) if abs(v) < 2**64 else _raises(OverflowError)
        if choice == 4:
            v = draw(st.sampled_from([np.float32(1.5), np.float64(-0.0), np.int16(-3), Index(12)]))
            return v, ("ok", np.longdouble(float(v) if not isinstance(v, Index) else 12))
        return draw(st.sampled_from([None, "1.0", 1j, [], RaisingFloat(), WrongFloat()])), None
    # c64 / c128: complex, float, int, numpy scalars; c64 rounds each part like float32.
    choice = draw(st.integers(0, 4))
    if choice <= 1:
        v = complex(draw(st.floats()), draw(st.floats()))
    elif choice == 2:
        v = draw(st.one_of(st.floats(), st.integers(-2**60, 2**60)))
    elif choice == 3:
        v = draw(st.sampled_from([np.complex64(1.5 - 2j), np.complex128(complex(1e300, -1)), np.float32(0.1),
                                  np.int8(-5), 3.4028235677973366e38 + 0j, complex(float("inf"), -0.0)]))
    else:
        return draw(st.sampled_from([None, "1", [], b"", RaisingFloat()])), None
    z = complex(v)
    if kind == "c128":
        return v, ("ok", z)
    re, im = f32_round(z.real), f32_round(z.imag)
    return v, _raises(OverflowError) if re is None or im is None else ("ok", complex(re, im))


def _same_wide(a, b) -> bool:
    """Equal results, NaNs and signed zeros included: longdoubles by their meaningful bytes,
    complex numbers part by part."""
    if a[0] != "ok" or b[0] != "ok":
        return a == b if a[0] == b[0] == "raise" else False
    x, y = a[1], b[1]
    if isinstance(y, np.longdouble):
        return type(x) is np.longdouble and x.tobytes()[:LD_BYTES] == y.tobytes()[:LD_BYTES]
    if isinstance(y, complex):
        return type(x) is complex and all(_same(("ok", p), ("ok", q)) for p, q in
                                          ((x.real, y.real), (x.imag, y.imag)))
    return type(x) is type(y) and x == y


@fuzzing.settings_for()
@given(data=st.data())
def test_wide_scalar_identity(fixture_lib, data):
    draw = data.draw
    kind = draw(st.sampled_from(sorted(WIDE_IDS)))
    v, model = wide_value(draw, kind)
    outcomes = call_all_tiers(fixture_lib, WIDE_IDS[kind], kind, [kind], [v], draw(st.booleans()))
    first = next(iter(outcomes.values()))
    for got in outcomes.values():
        assert _same_wide(got, first), f"tiers disagree on {v!r}: {outcomes}"
    if model is None:
        assert first[0] == "raise", (kind, v, first)
    elif model[0] == "raise":
        assert first[0] == "raise" and first[1] is model[1] and first[2].startswith(f"{WIDE_IDS[kind]}() argument 1: "), \
            (kind, v, first)
    else:
        assert _same_wide(first, model), (kind, v, first, model)
    fuzzing.tick("arguments", len(outcomes))


@fuzzing.settings_for()
@given(data=st.data())
def test_wide_strings(fixture_lib, data):
    draw = data.draw
    text = draw(st.text(st.characters(exclude_categories=["Cs"]), max_size=12))
    choice = draw(st.integers(0, 5))
    if choice <= 2:
        s = text
        model = ("raise", ValueError, "wstr_len() argument 1: embedded null character") if "\0" in s \
            else ("ok", len(s))
    elif choice == 3:
        s = None
        model = ("ok", -1)
    elif choice == 4:
        # A buffer holding UTF-32 with its own terminating NUL (a buffer is passed as is).
        s = draw(st.sampled_from([bytearray, bytes, lambda b: fastffi.array("u32", list(struct.unpack(
            f"<{len(b) // 4}I", b)))]))(text.encode("utf-32-le") + bytes(4))
        model = ("ok", len(text.split("\0")[0]))
    else:
        s = draw(st.sampled_from([5, 1.5, ["a"], 1j]))
        model = ("raise", TypeError, f"wstr_len() argument 1: expected wstring, got {type(s).__name__}")
    outcomes = call_all_tiers(fixture_lib, "wstr_len", "i64", ["wstring"], [s], draw(st.booleans()))
    check(outcomes, model, [s])
    if model[0] == "raise":
        assert next(iter(outcomes.values())) == model, (s, outcomes)
    fuzzing.tick("arguments", len(outcomes))
