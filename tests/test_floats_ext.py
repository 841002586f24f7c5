"""issue 16: c64 (``float _Complex``), c128 (``double _Complex``) and longdouble (``long double``)
in calls, results, structs, arrays, boxes, read/write, fn.map, variadic calls and bound headers --
against libm/complex.h (checked with cmath and numpy, long double to the bit) and the fixture's
every-position functions (tests/fixture/floats_ext.c), on each tier that passes them: libffi, and
the plan tier.  The JIT refuses them with the reason, and so do the static pool and the thunk
of callbacks (asserted here; libffi closures take them: tests/callbacks/test_callbacks_wide.py)."""
from __future__ import annotations

import cmath
import math
import platform

import numpy as np
import pytest

import fastffi
from conftest import raises_exact
from fastffi.model import longdouble as ld_box

LD = np.longdouble
X86_64 = platform.machine() in ("x86_64", "AMD64")
# The bytes C reads of a long double: x87's 10 on x86-64 (the rest is padding), all 16 otherwise.
LD_BYTES = 10 if X86_64 else 16


def bits(x) -> bytes:
    return LD(x).tobytes()[:LD_BYTES]


PLAN_TAKES_THEM = "plan" in fastffi.available_tiers()
WIDE_TIERS = ["libffi"] + (["plan"] if PLAN_TAKES_THEM else [])


class _On:
    """A library whose functions are made on one tier (an exact request: a refusal fails the test)."""

    def __init__(self, lib, tier):
        self.lib, self.tier = lib, tier

    def function(self, *args, **kw):
        fn = self.lib.function(*args, tier=kw.pop("tier", self.tier), **kw)
        assert fn.tier == self.tier
        return fn


@pytest.fixture(scope="module", params=WIDE_TIERS)
def libm(request):
    with fastffi.dlopen("libm.so.6") as m:
        yield _On(m, request.param)


@pytest.fixture(scope="module", params=WIDE_TIERS)
def fe(fixture_lib_path, request):
    with fastffi.dlopen(fixture_lib_path) as handle:
        yield _On(handle, request.param)


# ---- the types ---------------------------------------------------------------------------------

def test_names_sizes_and_spellings(fe):
    for spelling in ("float _Complex", "_Complex float", "float complex", "complex float", "c64"):
        assert fastffi.sizeof(spelling) == 8 and fastffi.alignof(spelling) == 4
    for spelling in ("double _Complex", "_Complex double", "double complex", "complex double", "c128"):
        assert fastffi.sizeof(spelling) == 16 and fastffi.alignof(spelling) == 8
    sizes = fe.function("int fe_sizes(int)")
    assert fastffi.sizeof("long double") == fastffi.sizeof("longdouble") == sizes(0)
    assert fastffi.alignof("long double") == sizes(1)
    if X86_64:
        assert fastffi.sizeof("f80") == 16
        with pytest.raises(fastffi.SignatureError):
            fastffi.sizeof("f128")
    else:
        assert fastffi.sizeof("f128") == 16


def test_struct_layouts_match_the_compiler(fe):
    sizes = fe.function("int fe_sizes(int)")
    sld = fastffi.struct("fe_sld", [("c", "char"), ("x", "long double")])
    sc128 = fastffi.struct("fe_sc128", [("z", "double _Complex"), ("n", "int")])
    assert fastffi.sizeof(sld) == sizes(2)
    assert fastffi.offsetof(sc128, "n") == sizes(3) and fastffi.sizeof(sc128) == sizes(4)


# ---- libm and complex.h ------------------------------------------------------------------------

def test_long_double_libm_to_the_bit(libm):
    sqrtl = libm.function("long double sqrtl(long double)")
    expl = libm.function("long double expl(long double)")
    nextafterl = libm.function("long double nextafterl(long double, long double)")
    frexpl = libm.function("long double frexpl(long double, int *)")
    r = sqrtl(2)
    assert type(r) is LD and bits(r) == bits(np.sqrt(LD(2)))
    third = LD(1) / LD(3)
    assert bits(sqrtl(third)) == bits(np.sqrt(third))   # the argument passed exactly
    assert bits(expl(third)) == bits(np.exp(third))
    assert bits(nextafterl(1, 2)) == bits(np.nextafter(LD(1), LD(2)))
    assert nextafterl(1, 2) - 1 == np.finfo(LD).eps     # not representable as a double
    e = fastffi.new("int")
    m = frexpl(third * 1024, e)
    assert (bits(m), e.value) == (bits(np.frexp(third * 1024)[0]), 9)


def test_complex_h_against_cmath(libm):
    cabs = libm.function("double cabs(double complex)")
    cexp = libm.function("double complex cexp(double complex)")
    csqrt = libm.function("double _Complex csqrt(double _Complex)")
    cexpf = libm.function("float complex cexpf(float complex)")
    assert cabs(3 + 4j) == 5.0
    assert cexp(1j) == cmath.exp(1j)
    assert csqrt(-4) == 2j and csqrt(-4.0 + 0j) == 2j
    assert cexpf(1j) == complex(np.exp(np.complex64(1j)))


def test_bound_headers_call_them():
    m = fastffi.dlopen("libm.so.6", fastffi.include("math.h"))
    assert bits(m.sqrtl(2)) == bits(np.sqrt(LD(2)))
    c = fastffi.dlopen("libm.so.6", fastffi.include("complex.h"))
    assert c.cabs(3 + 4j) == 5.0 and c.csqrt(-4 + 0j) == 2j
    assert c.header.functions["cabsl"].reason == \
        "'long double _Complex': long double _Complex has no fastffi type"


# ---- every position (the fixture) --------------------------------------------------------------

def test_identity_and_results(fe):
    assert bits(fe.function("long double fe_ld_id(long double)")(LD(1) / 3)) == bits(LD(1) / 3)
    assert fe.function("float _Complex fe_c64_id(float _Complex)")(1.5 - 2j) == 1.5 - 2j
    assert fe.function("double _Complex fe_c128_id(double _Complex)")(0.1 + 0.2j) == 0.1 + 0.2j
    assert fe.function("double _Complex fe_c128_mul(double _Complex, double _Complex)")(1 + 2j, 3 - 1j) == 5 + 5j
    assert fe.function("float _Complex fe_c64_mul(float _Complex, float _Complex)")(1 + 2j, 3 - 1j) == 5 + 5j


def test_after_six_integers_and_eight_doubles(fe):
    f = fe.function("long double fe_ld_after6(int, int, int, int, int, int, long double)")
    assert f(1, 2, 3, 4, 5, 6, LD(1) / 3) == LD(1) / 3 + 91
    eight = [0.5 * (i + 1) for i in range(8)]
    g = fe.function("long double fe_ld_after8(double, double, double, double, double, double, double, double,"
                    " long double, double)")
    assert g(*eight, LD(1) / 3, 7.0) == LD(1) / 3 * 2 + 18 + 7000
    h = fe.function("double _Complex fe_c128_after8(double, double, double, double, double, double, double,"
                    " double, double _Complex, double)")
    assert h(*eight, 1 + 2j, 3.0) == 20 + 3004j
    k = fe.function("float _Complex fe_c64_after8(double, double, double, double, double, double, double,"
                    " double, float _Complex)")
    assert k(*eight, 1 + 2j) == 20 + 4j


def test_mixed(fe):
    f = fe.function("long double fe_mix(int, long double, double _Complex, float _Complex, double, int)")
    assert f(1, 2, 3 + 4j, 5 + 6j, 7.0, 8) == LD(1 + 20 + 300 + 4000 + 50000 + 600000 + 7000000 + 80000000)


def test_inside_structs_by_value(fe):
    sld = fastffi.struct("fe_sld", [("c", "char"), ("x", "long double")])
    sc64 = fastffi.struct("fe_sc64", [("z", "float _Complex")])
    sc128 = fastffi.struct("fe_sc128", [("z", "double _Complex"), ("n", "int")])
    ns = {"struct fe_sld": sld, "struct fe_sc64": sc64, "struct fe_sc128": sc128}
    make = fe.function("struct fe_sld fe_sld_make(char, long double)", types=ns)
    s = make(3, LD(1) / 3)
    assert s.c == 3 and bits(s.x) == bits(LD(1) / 3)
    assert fe.function("long double fe_sld_get(struct fe_sld)", types=ns)(s) == LD(1) / 3 + 3
    w = fe.function("struct fe_sc64 fe_sc64_make(float, float)", types=ns)(1.5, -2.5)
    assert w.z == 1.5 - 2.5j
    assert fe.function("float _Complex fe_sc64_get(struct fe_sc64)", types=ns)(w) == 1.5 - 2.5j
    z = fe.function("struct fe_sc128 fe_sc128_make(double _Complex, int)", types=ns)(1 + 2j, 3)
    assert (z.z, z.n) == (1 + 2j, 3)
    assert fe.function("double _Complex fe_sc128_get(struct fe_sc128)", types=ns)(z) == 3 + 6j
    sfc = fastffi.struct("fe_sfc", [("a", "float"), ("z", "float _Complex")])
    ns["struct fe_sfc"] = sfc
    v = fe.function("struct fe_sfc fe_sfc_make(float, float, float)", types=ns)(1.5, 2.5, -3.5)
    assert (v.a, v.z) == (1.5, 2.5 - 3.5j)
    assert fe.function("double fe_sfc_get(struct fe_sfc)", types=ns)(v) == 1.5 + 25 - 350


def test_struct_of_one_long_double(fe):
    sl = fastffi.struct("fe_sl", [("x", "long double")])
    ns = {"struct fe_sl": sl}
    s = sl()
    s.x = LD(1) / 3
    get = fe.function("long double fe_sl_get(struct fe_sl, double)", types=ns)
    assert bits(get(s, 0.0)) == bits(LD(1) / 3) and get(s, 1.0) == LD(1) / 3 + 1
    if fastffi._core.PLAN_ABI == "sysv-x86_64" and fe.tier == "libffi":
        # returned in st0 (class X87), which libffi reads from memory: refused
        with raises_exact(fastffi.SignatureError, "fe_sl_make: tier 'libffi' refused: libffi "
                          f"{fastffi._core.LIBFFI_VERSION} does not return fe_sl (one long double: class X87, in "
                          "st0) as x86-64 compilers do"):
            fe.function("struct fe_sl fe_sl_make(long double)", types=ns)
        return
    r = fe.function("struct fe_sl fe_sl_make(long double)", types=ns)(LD(1) / 3)
    assert bits(r.x) == bits(LD(2) / 3)
    assert np.float64(1) / 3 == 1 / 3   # the x87 stack is balanced: later float work is right


def test_by_reference_boxes(fe):
    f = fe.function("void fe_write(long double *, double _Complex *, float _Complex *)")
    x, z, w = fastffi.new("long double"), fastffi.new("c128"), fastffi.new("c64")
    x.value, z.value, w.value = 1, 1 + 2j, 3 + 4j
    f(x, z, w)
    assert bits(x.value) == bits(LD(1) / 3) and z.value == -2 + 1j and w.value == 3 - 4j


# ---- conversions -------------------------------------------------------------------------------

def test_conversion_rules_and_messages(fe):
    c64 = fe.function("float _Complex fe_c64_id(float _Complex)")
    c128 = fe.function("double _Complex fe_c128_id(double _Complex)")
    ld = fe.function("long double fe_ld_id(long double)")
    assert c64(2) == 2 + 0j and c64(True) == 1 + 0j and c128(0.5) == 0.5 + 0j
    assert c64(0.1 + 0.1j) == complex(np.complex64(0.1 + 0.1j))          # each part rounded like f32
    assert c64(complex(math.inf, 1)) == complex(math.inf, 1)             # inf passes, as f32
    with raises_exact(OverflowError, "fe_c64_id() argument 1: (1e+300+1j) does not fit c64"):
        c64(1e300 + 1j)
    with raises_exact(OverflowError, "fe_c64_id() argument 1: (1+1e+300j) does not fit c64"):
        c64(1 + 1e300j)
    with raises_exact(TypeError, "fe_c128_id() argument 1: expected c128, got str"):
        c128("1")
    assert c128(np.complex64(1 + 2j)) == 1 + 2j and c128(np.float32(1.5)) == 1.5
    # long double: ints exactly up to 64 bits, beyond refused (not rounded)
    assert ld(2**64 - 1) == LD(2**64 - 1) and ld(-(2**64 - 1)) == -LD(2**64 - 1)
    assert ld(2**63 + 1) - LD(2**63) == 1
    with raises_exact(OverflowError, f"fe_ld_id() argument 1: {2**64} does not fit longdouble"):
        ld(2**64)
    with raises_exact(TypeError, "fe_ld_id() argument 1: expected longdouble, got complex"):
        ld(1j)
    with raises_exact(TypeError, "fe_ld_id() argument 1: expected longdouble, got str"):
        ld("1")
    assert ld(np.float32(0.5)) == 0.5


def test_without_numpy_results_are_floats(fe, monkeypatch):
    monkeypatch.setattr(ld_box, "_longdouble", None)
    r = fe.function("long double fe_ld_id(long double)")(LD(1) / 3)
    assert type(r) is float and r == float(LD(1) / 3)


# ---- memory, arrays, map ------------------------------------------------------------------------

def test_fields_arrays_read_write():
    S = fastffi.struct("FeS", [("a", "i8"), ("ld", "long double"), ("z", "c128"), ("w", "c64")])
    s = S()
    s.ld, s.z, s.w = LD(2) / 3, 1 - 1j, 0.5j
    assert bits(s.ld) == bits(LD(2) / 3) and s.z == 1 - 1j and s.w == 0.5j
    with raises_exact(OverflowError, "FeS.w: (1e+39+0j) does not fit c64"):
        s.w = 1e39
    a = fastffi.array("c64", 3)
    a[1] = 1 + 2j
    assert list(a) == [0j, 1 + 2j, 0j] and memoryview(a).format == "Zf"
    assert np.array_equal(np.frombuffer(memoryview(fastffi.array("longdouble", [1, 2])), LD), [1, 2])
    b = fastffi.new("long double")
    fastffi.write(b, "long double", LD(1) / 7)
    assert bits(fastffi.read(b, "long double")) == bits(LD(1) / 7)


def test_map_columns(libm):
    cexp = libm.function("double complex cexp(double complex)")
    z = np.array([0, 1j, 1 + 1j], dtype=np.complex128)
    assert np.array_equal(cexp.map(z), np.array([cmath.exp(v) for v in z]))
    cexpf = libm.function("float complex cexpf(float complex)")
    r = cexpf.map(z.astype(np.complex64))
    assert r.dtype == np.complex64 and r[1] == np.complex64(cmath.exp(1j))
    sqrtl = libm.function("long double sqrtl(long double)")
    x = np.array([2, 3, LD(1) / 3], dtype=LD)
    r = sqrtl.map(x)
    assert r.dtype == LD and [bits(v) for v in r] == [bits(v) for v in np.sqrt(x)]
    # single values broadcast: a numpy.longdouble, a complex
    ldexpl = libm.function("long double ldexpl(long double, int)")
    out = np.zeros(2, LD)
    ldexpl.map(LD(1) / 3, np.array([0, 1], np.int32), out=out)
    assert [bits(v) for v in out] == [bits(LD(1) / 3), bits(LD(2) / 3)]
    cpow = libm.function("double complex cpow(double complex, double complex)")
    assert list(cpow.map(2j, np.array([2], np.complex128))) == [cpow(2j, 2)]
    assert list(libm.function("double cabs(double complex)").map(np.array([3 + 4j]))) == [5.0]
    with raises_exact(TypeError, "sqrtl.map() argument 1: column format 'd' does not match longdouble "
                                 "(expected 'g')"):
        sqrtl.map(np.array([1.0]))


# ---- variadic calls ------------------------------------------------------------------------------

def test_variadic_long_double():
    libc = fastffi.dlopen(None)
    snprintf = libc.function("int snprintf(char *buf, size_t n, const char *fmt, ...)")
    buf = bytearray(64)
    assert snprintf.variadic("longdouble")(buf, 64, b"%.20Lf", LD(1) / 3) == 22
    # 1/3 to 64 significand bits (x87) and to 113 (binary128), printed to 20 places
    assert bytes(buf[:22]) == (b"0.33333333333333333334" if X86_64 else b"0.33333333333333333333")
    eight = [float(i) for i in range(8)]
    n = snprintf.variadic(*["double"] * 8, "long double", "double _Complex")(
        buf, 64, b"%.0f%.0f%.0f%.0f%.0f%.0f%.0f%.0f %.3Lf", *eight, 2.5, 1j)
    assert bytes(buf[:n]) == b"01234567 2.500"


# ---- refusals -----------------------------------------------------------------------------------

def test_refusals(fixture_lib_path):
    fe = fastffi.dlopen(fixture_lib_path)
    f = fe.function("long double fe_ld_id(long double)")
    assert f.tier == WIDE_TIERS[-1]
    if "jit" in fastffi.available_tiers():
        assert "jit refused: the return is longdouble (the JIT moves 8-byte register images only; " \
               "the plan tier takes it)" in f.explain()
        with raises_exact(fastffi.SignatureError, "fe_c64_id: tier 'jit' refused: argument 1 is c64 (the JIT "
                                                  "moves 8-byte register images only; the plan tier takes it)"):
            fe.function("int fe_c64_id(float _Complex)", tier="jit")


def test_plan_moves_on_x86_64():
    from fastffi.abi import sysv_x86_64
    from fastffi.cdecl.spelling import parse_declaration

    f = sysv_x86_64.classify(parse_declaration(
        "long double fe_mix(int, long double, double _Complex, float _Complex, double, int)"))
    assert (f.frame_size, f.describe()) == (224, [
        "arg 1 i32 sext32 -> rdi",
        "arg 2 longdouble -> stack+0 (X87: memory)",
        "arg 3 c128 -> xmm0, xmm1",
        "arg 4 c64 -> xmm2",
        "arg 5 f64 -> xmm3",
        "arg 6 i32 sext32 -> rsi",
        "ret longdouble <- st0 (X87)",
    ])
    g = sysv_x86_64.classify(parse_declaration(
        "double _Complex fe_c128_after8(double, double, double, double, double, double, double,"
        " double, double _Complex, double)"))
    # all or nothing (psABI 3.2.3): 8 doubles leave no pair of xmm registers, the whole c128 goes to the stack
    assert g.describe()[-4:] == ["arg 9 c128 -> stack+0", "arg 10 f64 -> stack+16",
                                 "ret c128 real <- xmm0", "ret c128 imaginary <- xmm1"]


def test_the_plan_tier_explains_its_moves(fixture_lib_path):
    fe = fastffi.dlopen(fixture_lib_path)
    f = fe.function("long double fe_mix(int, long double, double _Complex, float _Complex, double, int)",
                    tier="plan")
    from fastffi.abi import aapcs64, sysv_x86_64
    from fastffi.cdecl.spelling import parse_declaration
    classifier = aapcs64 if fastffi._core.PLAN_ABI == "aapcs64" else sysv_x86_64
    plan = classifier.classify(parse_declaration(
        "long double fe_mix(int, long double, double _Complex, float _Complex, double, int)"))
    lines = f.explain().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  plan ("))
    assert lines[start:] == [
        f"  plan ({fastffi._core.PLAN_ABI}), 6 moves, frame {plan.frame_size} bytes:",
        *("    " + line for line in plan.describe())]


def test_plan_moves_on_aapcs64():
    # The AAPCS64 classifier is plain Python: its plan is checked on any host (the arm64 suite
    # also calls these functions through it).
    from fastffi.abi import aapcs64
    from fastffi.cdecl.spelling import parse_declaration

    f = aapcs64.classify(parse_declaration(
        "long double fe_mix(int, long double, double _Complex, float _Complex, double, int)"))
    assert (f.frame_size, f.describe()) == (208, [
        "arg 1 i32 sext32 -> x0",
        "arg 2 longdouble -> q0",
        "arg 3 c128 -> d1, d2",
        "arg 4 c64 -> s3, s4",
        "arg 5 f64 -> v5",
        "arg 6 i32 sext32 -> x1",
        "ret longdouble <- q0",
    ])
    g = aapcs64.classify(parse_declaration(
        "double _Complex fe_c128_after8(double, double, double, double, double, double, double,"
        " double, double _Complex, double)"))
    # C.3: an HFA that does not fit goes to the stack, and so does every later FP argument
    assert g.describe()[-4:] == ["arg 9 c128 -> stack+0", "arg 10 f64 -> stack+16",
                                 "ret c128 real <- d0", "ret c128 imaginary <- d1"]


def test_callbacks_refuse_them():
    # Only the static pool and the callback thunk: libffi closures take them
    # (tests/callbacks/test_callbacks_wide.py), so tier="auto" picks libffi.
    from fastffi.tiers.callback import available_mechanisms
    pool = {
        "sysv-x86_64": "the static pool's dispatcher moves 8-byte register images only (a complex value spans "
                       "two xmm registers) and its relay never loads st0; the libffi mechanism takes it",
        "aapcs64": "the static pool's dispatcher moves 8-byte register images only (a complex value spans two v "
                   "registers, a long double a whole q register); the libffi mechanism takes it",
    }.get(fastffi._core.PLAN_ABI)
    S = fastffi.struct("FeCb", [("x", "long double")])
    if "plan" in available_mechanisms():
        with raises_exact(fastffi.FFIError, f"callback 'callback': tier 'plan' refused: argument 1 is c64 ({pool})"):
            fastffi.callback("int (*)(float _Complex)", lambda z: 0, tier="plan")
        with raises_exact(fastffi.FFIError, "callback 'callback': tier 'plan' refused: argument 1: FeCb holds a "
                                            f"longdouble field ({pool})"):
            fastffi.callback(("int", [S]), lambda s: 0, tier="plan")
    if "jit" in available_mechanisms():
        with raises_exact(fastffi.FFIError, "callback 'callback': tier 'jit' refused: the result is longdouble "
                                            "(the callback thunk boxes 8-byte registers only; the libffi "
                                            "mechanism takes it)"):
            fastffi.callback("long double (*)(int)", lambda n: 0, tier="jit")
    assert fastffi.callback("int (*)(float _Complex)", lambda z: 0).tier == "libffi"


def test_stubs_name_their_python_types():
    from fastffi.stubgen import stub
    text = stub(fastffi.cdef("double _Complex cz(float _Complex);\nlong double ld(long double);"))
    assert "    def cz(self, a0: complex, /) -> complex: ...\n" in text
    assert "    def ld(self, a0: Union[float, int, Any], /) -> Any: ...\n" in text


def test_shared_call(libm):
    ldexpl = libm.function("long double ldexpl(long double, int)")
    sb = ldexpl.shared()
    assert (sb.format, sb.offsets) == ("=16si" + "x" * 12, (0, 16))   # their bytes: no struct-module code
    sb.args[0:16] = (LD(1) / 3).tobytes()
    sb.args[16:20] = (2).to_bytes(4, "little", signed=True)
    sb()
    assert bits(np.frombuffer(sb.result, LD)[0]) == bits(LD(4) / 3)
    cexp = libm.function("double complex cexp(double complex)")
    sb = cexp.shared()
    sb.args[:] = np.complex128(1j).tobytes()
    sb()
    assert np.frombuffer(sb.result, np.complex128)[0] == cmath.exp(1j)
