"""Callbacks taking and returning c64 (``float _Complex``), c128 (``double _Complex``) and
longdouble (``long double``): the libffi mechanism takes them, as arguments (first, after 8
doubles on the stack, beside ints, in structs) and results, with the error value converted the
same way; C calls them from tests/fixture/callbacks_wide.c.  The static pool and the callback
thunk refuse them with their reasons, so ``tier="auto"`` picks libffi.  Long doubles are compared
by their bit patterns through numpy."""
from __future__ import annotations

import cmath
import platform

import numpy as np
import pytest

import fastffi
from fastffi import _core
from fastffi.tiers.callback import available_mechanisms
from conftest import raises_exact

LD = np.longdouble
X86_64 = platform.machine() in ("x86_64", "AMD64")
# The bytes C reads of a long double: x87's 10 on x86-64 (the rest is padding), all 16 otherwise.
LD_BYTES = 10 if X86_64 else 16
F32 = np.float32


def bits(x) -> bytes:
    return LD(x).tobytes()[:LD_BYTES]


def c64(re, im) -> complex:
    """The complex value C's float _Complex holds: each part rounded like f32."""
    return complex(F32(re), F32(im))


@pytest.fixture(scope="module")
def cw(fixture_lib_path):
    with fastffi.dlopen(fixture_lib_path) as handle:
        yield handle


WIDE_CALLBACKS = ["float _Complex (*)(float _Complex)", "double _Complex (*)(double _Complex)",
                  "long double (*)(long double)", "int (*)(int, long double)", "void (*)(double _Complex)"]


@pytest.mark.parametrize("text", WIDE_CALLBACKS)
def test_auto_picks_libffi(text):
    cb = fastffi.callback(text, lambda *a: 0)
    assert cb.tier == "libffi"


# ---- values both ways ----------------------------------------------------------------------------

def test_first_argument_and_result(cw):
    seen = []

    def f(z, n):
        seen.append((z, n))
        return z * n

    c64_first = cw.function("float _Complex cw_c64_first(float _Complex (*cb)(float _Complex, int), int n)")
    c128_first = cw.function("double _Complex cw_c128_first(double _Complex (*cb)(double _Complex, int), int n)")
    third = F32(1) / F32(3)
    want64 = complex(third, -(F32(2) / F32(3)))
    assert c64_first(fastffi.callback("float _Complex (*)(float _Complex, int)", f), 3) \
        == complex(np.complex64(want64 * 3))
    assert c128_first(fastffi.callback("double _Complex (*)(double _Complex, int)", f), -2) \
        == complex(1 / 3, -2 / 3) * -2
    assert seen == [(want64, 3), (complex(1 / 3, -2 / 3), -2)]
    assert all(type(z) is complex for z, _ in seen)


def test_long_double_first_argument_and_result(cw):
    seen = []

    def f(x, n):
        seen.append(x)
        return x * n

    ld_first = cw.function("long double cw_ld_first(long double (*cb)(long double, int), int n)")
    r = ld_first(fastffi.callback("long double (*)(long double, int)", f), 7)
    (x,) = seen
    assert type(x) is LD and bits(x) == bits(LD(1) / 3)        # not 1/3 rounded through a double
    assert type(r) is LD and bits(r) == bits(LD(1) / 3 * 7)


AFTER8 = "(double, double, double, double, double, double, double, double, int, {t}, int)"


@pytest.mark.parametrize("ctype, name, value", [
    ("float _Complex", "c64", c64(F32(1) / F32(7), F32(5) / F32(7))),
    ("double _Complex", "c128", complex(1 / 7, 5 / 7)),
])
def test_complex_after_eight_doubles(cw, ctype, name, value):
    seen = []

    def f(*args):
        seen.append(args)
        return args[9] * 2 + sum(args[:8]) + args[8] * 1j + args[10] * 1000

    fn = cw.function(f"{ctype} cw_{name}_after8({ctype} (*cb){AFTER8.format(t=ctype)})")
    cb = fastffi.callback(f"{ctype} (*){AFTER8.format(t=ctype)}", f)
    want = value * 2 + 36 - 9j + 10000
    assert fn(cb) == (c64(want.real, want.imag) if name == "c64" else want)
    assert seen == [(1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, -9, value, 10)]


def test_long_double_after_eight_doubles(cw):
    seen = []

    def f(*args):
        seen.append(args)
        return args[9] * 3 + args[8] + args[10]

    fn = cw.function(f"long double cw_ld_after8(long double (*cb){AFTER8.format(t='long double')})")
    r = fn(fastffi.callback(f"long double (*){AFTER8.format(t='long double')}", f))
    ((*doubles, i, x, j),) = seen
    assert (doubles, i, j) == ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], -9, 10)
    assert bits(x) == bits(LD(1) / 7)
    assert bits(r) == bits(LD(1) / 7 * 3 + -9 + 10)


def test_all_three_beside_ints(cw):
    seen = []

    def f(a, w, x, z, b):
        seen.append((a, w, x, z, b))
        return 1.5

    fn = cw.function("double cw_mixed(double (*cb)(int, float _Complex, long double, double _Complex, int))")
    assert fn(fastffi.callback("double (*)(int, float _Complex, long double, double _Complex, int)", f)) == 1.5
    ((a, w, x, z, b),) = seen
    assert (a, w, z, b) == (1, 2.5 - 0.5j, -4.25 + 8.5j, 2)
    assert bits(x) == bits(LD(2) / 3)


def test_results_take_what_arguments_take():
    cb = fastffi.callback("long double (*)(void)", lambda: 2**63 + 1)     # an int below 2**64: exact
    call = fastffi.function(cb.address, "longdouble", [])
    assert bits(call()) == bits(LD(2**63) + 1)
    z = fastffi.callback("double _Complex (*)(void)", lambda: 3)
    assert fastffi.function(z.address, "c128", [])() == 3 + 0j
    w = fastffi.callback("float _Complex (*)(void)", lambda: 0.1 + 0.2j)
    assert fastffi.function(w.address, "c64", [])() == c64(0.1, 0.2)   # each part rounded like f32


# ---- structs holding them, by value --------------------------------------------------------------

Zn = fastffi.struct("cw_zn", [("z", "double _Complex"), ("n", "int")])
W = fastffi.struct("cw_w", [("w", "float _Complex")])
Cl = fastffi.struct("cw_cl", [("c", "char"), ("x", "long double")])
L = fastffi.struct("cw_l", [("x", "long double")])
NS = {"struct cw_zn": Zn, "struct cw_w": W, "struct cw_cl": Cl, "struct cw_l": L}


def test_structs_as_arguments(cw):
    seen = []
    zn_pass = cw.function("double _Complex cw_zn_pass(double _Complex (*cb)(struct cw_zn, int), int k)", types=NS)
    cb = fastffi.callback(("c128", [Zn, "int"]), lambda s, k: seen.append((s.z, s.n, k)) or s.z * k)
    assert cb.tier == "libffi"
    assert zn_pass(cb, 4) == complex(1 / 3, 0.25) * 4
    w_pass = cw.function("float _Complex cw_w_pass(float _Complex (*cb)(struct cw_w))", types=NS)
    assert w_pass(fastffi.callback(("c64", [W]), lambda s: seen.append(s.w) or s.w * 1j)) \
        == c64(-3.0, F32(1) / F32(3))
    cl_pass = cw.function("long double cw_cl_pass(long double (*cb)(struct cw_cl))", types=NS)
    r = cl_pass(fastffi.callback(("longdouble", [Cl]), lambda s: seen.append(s.c) or s.x * 2))
    assert bits(r) == bits(LD(1) / 3 * 2)
    l_pass = cw.function("long double cw_l_pass(long double (*cb)(struct cw_l, double), double after)", types=NS)
    r = l_pass(fastffi.callback(("longdouble", [L, "f64"]), lambda s, after: s.x + LD(after)), 0.5)
    assert bits(r) == bits(LD(1) / 3 + LD(0.5))
    assert seen == [(complex(1 / 3, 0.25), -5, 4), c64(F32(1) / F32(3), 3.0), b"A"[0]]


def test_structs_as_results(cw):
    zn_back = cw.function("double _Complex cw_zn_back(struct cw_zn (*cb)(double _Complex))", types=NS)
    assert zn_back(fastffi.callback((Zn, ["c128"]), lambda z: Zn(z=z * 2, n=3))) == complex(0.5, 1 / 3) * 2 * 3
    w_back = cw.function("float _Complex cw_w_back(struct cw_w (*cb)(int), int n)", types=NS)
    assert w_back(fastffi.callback((W, ["int"]), lambda n: W(w=complex(n, -n) / 3)), 2) == c64(2 / 3, -2 / 3)
    cl_back = cw.function("long double cw_cl_back(struct cw_cl (*cb)(void))", types=NS)
    r = cl_back(fastffi.callback((Cl, []), lambda: Cl(c=1, x=LD(1) / 9)))
    assert bits(r) == bits(LD(1) / 9 + 1)


def test_a_struct_of_one_long_double_as_the_result(cw):
    if X86_64:   # class X87: C reads st0, which libffi's closure never loads
        with raises_exact(fastffi.FFIError, f"callback 'callback': tier 'libffi' refused: libffi "
                                            f"{_core.LIBFFI_VERSION} does not return cw_l (one long double: "
                                            f"class X87, in st0) as x86-64 compilers do"):
            fastffi.callback((L, []), lambda: L(x=1), tier="libffi")
        return
    # AAPCS64: an HFA of one quad, returned in q0
    l_back = cw.function("long double cw_l_back(struct cw_l (*cb)(void))", types=NS)
    assert bits(l_back(fastffi.callback((L, []), lambda: L(x=LD(1) / 11)))) == bits(LD(1) / 11)


# ---- errors ------------------------------------------------------------------------------------

def test_c64_result_out_of_range_returns_the_error_value(unraisable):
    cb = fastffi.callback("float _Complex big(void)", lambda: complex(1e300, 1), error=0.5 - 2j)
    assert fastffi.function(cb.address, "c64", [])() == 0.5 - 2j      # never inf
    (report,) = unraisable
    assert (report.exc_type, str(report.exc_value)) == (OverflowError,
                                                         "callback 'big' result: (1e+300+1j) does not fit c64")
    assert report.object is cb


def test_error_values_are_converted_exactly(unraisable):
    third = LD(1) / 3

    def boom():
        raise ValueError("no")

    cb = fastffi.callback("long double f(void)", boom, error=third)
    assert bits(fastffi.function(cb.address, "longdouble", [])()) == bits(third)
    z = fastffi.callback("double _Complex g(void)", boom, error=1j)
    assert fastffi.function(z.address, "c128", [])() == 1j
    assert fastffi.function(fastffi.callback("double _Complex h(void)", boom).address, "c128", [])() == 0j
    assert [(r.exc_type, str(r.exc_value)) for r in unraisable] == [(ValueError, "no")] * 3
    with raises_exact(OverflowError, "callback 'f' error value: (1e+39+0j) does not fit c64"):
        fastffi.callback("float _Complex f(void)", boom, error=1e39)
    with raises_exact(TypeError, "callback 'f' error value: expected longdouble, got complex"):
        fastffi.callback("long double f(void)", boom, error=1j)


def test_wrong_result_types(unraisable):
    cb = fastffi.callback("long double f(void)", lambda: "1", error=2)
    assert fastffi.function(cb.address, "longdouble", [])() == 2
    z = fastffi.callback("double _Complex g(void)", lambda: None)
    assert fastffi.function(z.address, "c128", [])() == 0j
    assert [(r.exc_type, str(r.exc_value)) for r in unraisable] == [
        (TypeError, "callback 'f' result: expected longdouble, got str"),
        (TypeError, "callback 'g' result: expected c128, got NoneType")]


def test_onerror_result_is_converted_too(unraisable):
    cb = fastffi.callback("long double f(void)", lambda: 1 / 0, onerror=lambda *exc: LD(1) / 5)
    assert bits(fastffi.function(cb.address, "longdouble", [])()) == bits(LD(1) / 5)
    assert unraisable == []


# ---- the mechanisms that refuse them -------------------------------------------------------------

POOL = {
    "sysv-x86_64": "the static pool's dispatcher moves 8-byte register images only (a complex value spans two "
                   "xmm registers) and its relay never loads st0; the libffi mechanism takes it",
    "aapcs64": "the static pool's dispatcher moves 8-byte register images only (a complex value spans two v "
               "registers, a long double a whole q register); the libffi mechanism takes it",
}.get(_core.PLAN_ABI)
THUNK = "the callback thunk boxes 8-byte registers only; the libffi mechanism takes it"


@pytest.mark.parametrize("text, where", [
    ("int (*)(float _Complex)", "argument 1 is c64"),
    ("double _Complex (*)(int)", "the result is c128"),
    ("void (*)(int, double, long double)", "argument 3 is longdouble"),
])
def test_plan_and_jit_refuse_them(text, where):
    if "plan" in available_mechanisms():
        with raises_exact(fastffi.FFIError, f"callback 'callback': tier 'plan' refused: {where} ({POOL})"):
            fastffi.callback(text, lambda *a: 0, tier="plan")
    if "jit" in available_mechanisms():
        with raises_exact(fastffi.FFIError, f"callback 'callback': tier 'jit' refused: {where} ({THUNK})"):
            fastffi.callback(text, lambda *a: 0, tier="jit")


@pytest.mark.skipif("plan" not in available_mechanisms(), reason="no static pool here (or FASTFFI_TIER=libffi)")
def test_plan_refuses_structs_holding_them():
    with raises_exact(fastffi.FFIError, f"callback 'callback': tier 'plan' refused: argument 1: cw_zn holds a "
                                        f"c128 field ({POOL})"):
        fastffi.callback(("int", [Zn, "int"]), lambda *a: 0, tier="plan")
    with raises_exact(fastffi.FFIError, f"callback 'callback': tier 'plan' refused: the result: cw_cl holds a "
                                        f"longdouble field ({POOL})"):
        fastffi.callback((Cl, []), lambda: Cl(), tier="plan")


def test_explain():
    cb = fastffi.callback("long double scale(long double x, double _Complex z)", lambda x, z: x)
    lines = cb.explain().splitlines()
    assert lines[:2] == ["longdouble scale(longdouble, c128)", "tier: libffi"]
    refused = [line for line in lines if " refused: " in line]
    expected = []
    if "jit" in available_mechanisms():
        expected.append(f"  jit refused: the result is longdouble ({THUNK})")
    if "plan" in available_mechanisms():
        expected.append(f"  plan refused: the result is longdouble ({POOL})")
    assert refused == expected
    assert lines[-1].startswith("  libffi closure (ffi_closure_alloc)")


# ---- a real use --------------------------------------------------------------------------------

def test_sum_of_a_complex_function_over_a_grid(cw):
    sum_map = cw.function("double _Complex cw_sum_map(double _Complex (*f)(double _Complex), int n)")
    n = 1000
    want = 0j
    for k in range(n):
        want += cmath.exp(complex(k / 4.0, k / 8.0) / 100)
    assert sum_map(lambda z: cmath.exp(z / 100), n) == want     # a plain callable: a temporary callback
    cb = fastffi.callback("double _Complex (*)(double _Complex)", cmath.sqrt)
    want = 0j
    for k in range(n):
        want += cmath.sqrt(complex(k / 4.0, k / 8.0))
    assert sum_map(cb, n) == want


@pytest.mark.parametrize("text", ["int (*)(long double)", "double _Complex (*)(int)"])
def test_the_core_refuses_them_on_other_mechanisms_too(text):
    # Python decides the mechanism; a spec handed to the core by other means is still checked.
    from fastffi.callbacks import _signature
    from fastffi.tiers import callback as tier_callback
    sig = _signature(text)
    spec = tier_callback._spec(sig, abs, 0, None, "libffi", {}, {"ffi_structs": (None,) * 2}, None)
    for mechanism in (_core.CALLBACK_PLAN, _core.CALLBACK_JIT):
        with raises_exact(ValueError, "make_callback: only the libffi mechanism takes c64/c128/longdouble"):
            _core.make_callback(spec._replace(mechanism=mechanism))
    assert _core.make_callback(spec).tier == "libffi"
