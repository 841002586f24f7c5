"""issue 16: ``i128``/``u128`` (``__int128``) -- conversions, every argument
position the psABI and AAPCS64 treat differently, results, structs, memory,
variadic calls and the refusals of the tiers that do not take them."""
from __future__ import annotations

import pytest

import fastffi
from fastffi import _core
from fastffi.tiers import callback as callback_mechanisms

I128_MIN, I128_MAX, U128_MAX = -2**127, 2**127 - 1, 2**128 - 1
X86 = _core.PLAN_ABI == "sysv-x86_64"


@pytest.fixture
def i128_id(lib):
    return lib.function("__int128 i128_id(__int128)")


@pytest.mark.parametrize("v", [0, 1, -1, 2**63 - 1, -2**63, 2**63, 2**64 - 1, 2**64, -2**64, -2**64 - 1,
                               0x0123456789ABCDEF_FEDCBA9876543210, I128_MIN, I128_MAX])
def test_i128_round_trips(i128_id, v):
    assert i128_id(v) == v
    assert type(i128_id(v)) is int


@pytest.mark.parametrize("v", [0, 1, 2**63, 2**64 - 1, 2**64, 2**127, U128_MAX])
def test_u128_round_trips(lib, v):
    f = lib.function("unsigned __int128 u128_id(unsigned __int128)")
    assert f(v) == v
    assert lib.function("unsigned __int128 u128_not(unsigned __int128)")(v) == U128_MAX - v


def test_results_computed_in_c(lib):
    neg = lib.function("__int128 i128_neg(__int128)")
    assert neg(I128_MAX) == -I128_MAX
    assert neg(2**100 + 5) == -(2**100 + 5)
    assert neg(-1) == 1


@pytest.mark.parametrize("v, spelling, message", [
    (2**127, "__int128", "170141183460469231731687303715884105728 does not fit i128"),
    (-2**127 - 1, "__int128", "-170141183460469231731687303715884105729 does not fit i128"),
    (2**128, "unsigned __int128", "340282366920938463463374607431768211456 does not fit u128"),
    (-1, "unsigned __int128", "-1 does not fit u128"),
    (-2**64, "unsigned __int128", "-18446744073709551616 does not fit u128"),
    (2**200, "__int128", f"{2**200} does not fit i128"),
])
def test_overflow_by_one_is_refused_never_truncated(lib, v, spelling, message):
    name = "i128_id" if spelling == "__int128" else "u128_id"
    f = lib.function(f"{spelling} {name}({spelling})")
    with pytest.raises(OverflowError) as e:
        f(v)
    assert str(e.value) == f"{name}() argument 1: {message}"


def test_non_integers_are_refused(i128_id):
    with pytest.raises(TypeError, match=r"^i128_id\(\) argument 1: expected i128, got float$"):
        i128_id(1.0)
    with pytest.raises(TypeError, match=r"^i128_id\(\) argument 1: expected i128, got str$"):
        i128_id("1")


def test_index_objects_are_taken(i128_id):
    class Big:
        def __index__(self):
            return 2**120 + 7
    assert i128_id(Big()) == 2**120 + 7
    assert i128_id(True) == 1


@pytest.mark.parametrize("spelling", ["__int128", "__int128_t", "signed __int128", "__int128 signed"])
def test_spellings(lib, spelling):
    f = lib.function(f"{spelling} i128_id({spelling} x)")
    assert f.restype == "i128" and f.argtypes == ("i128",)
    assert f(I128_MIN) == I128_MIN


@pytest.mark.parametrize("spelling", ["unsigned __int128", "__uint128_t", "__int128 unsigned"])
def test_unsigned_spellings(lib, spelling):
    f = lib.function(f"{spelling} u128_id({spelling})")
    assert f.argtypes == ("u128",) and f(U128_MAX) == U128_MAX


def test_list_form(lib):
    f = lib.function("i128_first", "i128", ["i128", "i64"])
    assert f(I128_MAX - 20, 10) == I128_MAX


def _weighted(*pairs):
    return sum(w * v for w, v in pairs)


def test_first_position(lib):
    f = lib.function("__int128 i128_first(__int128 x, long y)")
    assert f(2**100, -3) == 2**100 - 6
    assert "arg 1 i128 -> " + ("rdi:rsi" if X86 else "x0:x1") in f.explain()


def test_after_six_integers(lib):
    f = lib.function("__int128 i128_after6(long, long, long, long, long, long, __int128, long)")
    x = -2**126 + 12345
    assert f(1, 2, 3, 4, 5, 6, x, 7) == x + _weighted((1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (7, 7))
    text = f.explain()
    if X86:
        assert "arg 7 i128 -> stack+0" in text and "arg 8 i64 -> stack+16" in text
    else:
        assert "arg 7 i128 -> x6:x7" in text and "arg 8 i64 -> stack+0" in text


def test_after_five_integers_goes_wholly_to_the_stack_on_x86_64(lib):
    f = lib.function("__int128 i128_after5(long, long, long, long, long, __int128, long)")
    x = 2**127 - 2**70
    assert f(-1, -2, -3, -4, -5, x, 100) == x - 1 - 4 - 9 - 16 - 25 + 700
    text = f.explain()
    if X86:
        # psABI 3.2.3: both eightbytes or neither -- and r9 still takes the next INTEGER.
        assert "arg 6 i128 -> stack+0" in text and "arg 7 i64 -> r9" in text
    else:
        # AAPCS64 C.8: NGRN 5 rounded up to 6.
        assert "arg 6 i128 -> x6:x7" in text and "arg 7 i64 -> stack+0" in text


def test_odd_register_is_skipped_on_aarch64(lib):
    f = lib.function("__int128 i128_odd(long, __int128, long)")
    assert f(7, -2**100, 11) == -2**100 + 21 + 55
    text = f.explain()
    if X86:
        assert "arg 2 i128 -> rsi:rdx" in text and "arg 3 i64 -> rcx" in text
    else:
        assert "arg 2 i128 -> x2:x3" in text and "arg 3 i64 -> x4" in text


def test_four_fill_the_registers_then_the_stack(lib):
    f = lib.function("__int128 i128_four(__int128, __int128, __int128, __int128, long)")
    a, b, c, d = 2**90, -2**91 + 1, 2**92 + 3, -(2**93) - 5
    assert f(a, b, c, d, -9) == a + 2 * b + 3 * c + 4 * d - 45
    if X86:
        assert "arg 4 i128 -> stack+0" in f.explain() and "arg 5 i64 -> stack+16" in f.explain()


def test_mixed_with_floats(lib):
    f = lib.function("__int128 i128_mix(double, __int128, float, unsigned __int128)")
    assert f(2.5, -2**120, 1.5, 2**127 + 1) == -2**120 + 2**127 + 1 + 10 + 3


def test_fifth_on_the_stack(lib):
    f = lib.function("__int128 i128_nine(__int128, __int128, __int128, __int128, long, __int128)")
    a, b, c, d, f6 = 10**30, 3 * 10**29, -(10**28), 7, 2**110
    assert f(a, b, c, d, -2, f6) == a - b + 3 * c - 28 - 10 + 6 * f6


I128One = fastffi.struct("I128One", [("v", "i128")])
I128Pair = fastffi.struct("I128Pair", [("tag", "i64"), ("v", "i128")])
U128Mix = fastffi.struct("U128Mix", [("c", "u8"), ("v", "u128"), ("d", "f64")])


def test_struct_layouts_match_the_compiler():
    assert (fastffi.sizeof(I128One), fastffi.alignof(I128One)) == (16, 16)
    assert (fastffi.sizeof(I128Pair), fastffi.offsetof(I128Pair, "v"), fastffi.alignof(I128Pair)) == (32, 16, 16)
    assert (fastffi.sizeof(U128Mix), fastffi.offsetof(U128Mix, "v"), fastffi.offsetof(U128Mix, "d")) == (48, 16, 32)


def test_structs_by_value_both_ways(lib):
    twice = lib.function("i128_one_twice", I128One, [I128One])
    r = twice(I128One(v=-2**125))
    assert type(r) is I128One and r.v == -2**126
    after = lib.function("i128_one_after", I128One, ["i32", I128One])
    assert after(5, I128One(v=2**100)).v == 2**100 + 5
    if not X86:
        assert "arg 2 I128One bytes 0..8 -> x2" in after.explain()   # C.8: even pair for 16-aligned composites
    make = lib.function("i128_pair_make", I128Pair, ["i64", "i128"])
    p = make(-4, I128_MAX)
    assert (p.tag, p.v) == (-4, I128_MAX)
    total = lib.function("i128_pair_sum", "i128", [I128Pair])
    assert total(p) == I128_MAX - 4
    six = lib.function("i128_pair_after6", "i128", ["i64"] * 6 + [I128Pair])
    assert six(1, 2, 3, 4, 5, 6, I128Pair(tag=10, v=2**120)) == 2**120 + 30 + 21
    swap = lib.function("u128_mix_swap", U128Mix, [U128Mix])
    m = swap(U128Mix(c=7, v=2**64, d=1.25))
    assert (m.c, m.v, m.d) == (8, U128_MAX - 2**64, 2.5)


def test_memory_boxes_arrays_read_write():
    box = fastffi.new("i128")
    box.value = I128_MIN
    assert box.value == I128_MIN
    with pytest.raises(OverflowError) as e:
        box.value = I128_MAX + 1
    assert str(e.value) == f"value: {I128_MAX + 1} does not fit i128"
    arr = fastffi.array("u128", [1, U128_MAX, 2**64])
    assert list(arr) == [1, U128_MAX, 2**64]
    fastffi.write(arr, "u128", U128_MAX - 1, 16)
    assert fastffi.read(arr, "u128", 16) == U128_MAX - 1
    assert fastffi.read(arr, "__int128", 16) == -2
    s = I128Pair(tag=1, v=-(2**100))
    assert s.v == -(2**100)
    assert fastffi.read(s, "i128", 16) == -(2**100)


def test_variadic(lib):
    f = lib.function("__int128 i128_sum_va(int, ...)")
    v = f.variadic("i128", "i128", "u128")
    assert v(3, 2**100, -5, 2**124) == 2**100 - 10 + 3 * 2**124
    assert "arg 2 i128 -> " + ("rsi:rdx" if X86 else "x2:x3") in v.explain()


def test_jit_refuses_with_the_reason(lib):
    f = lib.function("__int128 i128_id(__int128)")
    assert f.tier == "plan"
    assert ("jit refused: the return is i128 (the JIT emits no 16-byte integer conversions; the plan tier "
            "takes it)") in f.explain()


def test_libffi_refuses_with_the_reason(lib):
    with pytest.raises(fastffi.FFIError) as e:
        lib.function("__int128 i128_id(__int128)", tier="libffi")
    assert str(e.value) == "i128_id: tier 'libffi' refused: libffi has no __int128 type"
    with pytest.raises(fastffi.FFIError) as e:
        lib.function("long wstr_len(__int128)", tier="libffi")
    assert str(e.value) == "wstr_len: tier 'libffi' refused: argument 1: libffi has no __int128 type"
    with pytest.raises(fastffi.FFIError) as e:
        lib.function("i128_pair_sum", "i128", [I128Pair], tier="libffi")
    assert str(e.value) == "i128_pair_sum: tier 'libffi' refused: libffi has no __int128 type"
    with pytest.raises(fastffi.FFIError) as e:
        lib.function("i128_one_twice", I128One, [I128One], tier="libffi")
    assert str(e.value) == "i128_one_twice: tier 'libffi' refused: libffi has no __int128 type (I128One)"


def test_scalar_callbacks_on_the_plan_mechanism(lib):
    if "plan" not in callback_mechanisms.available_mechanisms():
        pytest.skip("the static pool is not available here")   # pragma: no cover
    call = lib.function("__int128 i128_call_scalar(__int128 (*)(__int128, long), __int128)")
    seen = []

    def f(x, n):
        seen.append((x, n))
        return x * 2 + n
    cb = fastffi.callback("__int128 (*)(__int128, long)", f, tier="plan")
    assert call(cb, -(2**125)) == -(2**126) - 7
    assert seen == [(-(2**125), -7)]
    after5 = lib.function("unsigned __int128 u128_call_after5("
                          "unsigned __int128 (*)(long, long, long, long, long, unsigned __int128, long), "
                          "unsigned __int128)")
    cb5 = fastffi.callback("unsigned __int128 (*)(long, long, long, long, long, unsigned __int128, long)",
                           lambda a, b, c, d, e, v, g: v - (a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * g), tier="plan")
    assert after5(cb5, U128_MAX) == U128_MAX - 91


def test_callback_result_out_of_range_returns_the_error_value(lib):
    if "plan" not in callback_mechanisms.available_mechanisms():
        pytest.skip("the static pool is not available here")   # pragma: no cover
    call = lib.function("__int128 i128_call_scalar(__int128 (*)(__int128, long), __int128)")
    errors = []
    cb = fastffi.callback("__int128 (*)(__int128, long)", lambda x, n: 2**127, error=-(2**126) - 1,
                          onerror=lambda t, e, tb: errors.append(str(e)), tier="plan")
    assert call(cb, 1) == -(2**126) - 1
    assert len(errors) == 1 and errors[0].endswith("170141183460469231731687303715884105728 does not fit i128")


def test_callbacks_refuse_with_the_reason():
    with pytest.raises(fastffi.FFIError) as e:
        fastffi.callback("__int128 (*)(int)", lambda x: x, tier="libffi")
    assert str(e.value) == "callback 'callback': tier 'libffi' refused: libffi has no __int128 type"
    if "jit" in callback_mechanisms.available_mechanisms():
        with pytest.raises(fastffi.FFIError) as e:
            fastffi.callback("int (*)(int, unsigned __int128)", lambda x, y: 0, tier="jit")
        assert str(e.value) == ("callback 'callback': tier 'jit' refused: argument 2 is u128 (the callback thunk "
                                "boxes 8-byte registers only; the plan mechanism takes it)")


def test_map_refuses_with_the_reason(lib):
    f = lib.function("__int128 i128_id(__int128)")
    with pytest.raises(TypeError) as e:
        f.map([1, 2])
    assert str(e.value) == ("i128_id.map(): its result is i128 (numpy has no 128-bit integer dtype); "
                            "call i128_id per row")


HEADER = """
typedef __int128 wide_t;
__int128 i128_id(__int128 x);
unsigned __int128 u128_id(unsigned __int128);
__int128_t i128_neg(__int128_t);
__uint128_t u128_not(__uint128_t);
wide_t i128_first(wide_t x, long y);
struct I128One { __int128 v; };
struct I128One i128_one_twice(struct I128One s);
int takes_pointer(__int128 *p);
"""


def test_bound_header_functions_are_callable(fixture_lib_path):
    h = fastffi.cdef(HEADER)
    assert h.unsupported == {}
    assert str(h.functions["i128_neg"]) == "i128 i128_neg(i128)"
    assert str(h.functions["u128_not"]) == "u128 u128_not(u128)"
    bound = fastffi.dlopen(fixture_lib_path, h)
    assert bound.i128_id(I128_MIN) == I128_MIN
    assert bound.u128_id(U128_MAX) == U128_MAX
    assert bound.i128_neg(-I128_MAX) == I128_MAX
    assert bound.u128_not(0) == U128_MAX
    assert bound.i128_first(2**120, 3) == 2**120 + 6
    One = h.types["struct I128One"]
    assert (fastffi.sizeof(One), fastffi.alignof(One)) == (16, 16)
    assert bound.i128_one_twice(One(v=-(2**100))).v == -(2**101)


def test_callbacks_of_structs_holding_int128(lib):
    call = lib.function("__int128 i128_call_one(struct I128One (*)(struct I128One, long), __int128)",
                        types={"struct I128One": I128One})
    mechanisms = callback_mechanisms.available_mechanisms()
    if "plan" in mechanisms:
        cb = fastffi.callback((I128One, [I128One, "i64"]), lambda s, n: I128One(v=s.v * n - 1), tier="plan")
        assert call(cb, -(2**120)) == -3 * 2**120 - 1
    with pytest.raises(fastffi.FFIError) as e:
        fastffi.callback((I128One, [I128One, "i64"]), lambda s, n: s, tier="libffi")
    assert str(e.value) == "callback 'callback': tier 'libffi' refused: libffi has no __int128 type (I128One)"
