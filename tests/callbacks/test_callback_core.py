"""fastffi.callback: creation, conversions both ways, errors, lifetime and
threads, on every callback mechanism (``callback_tier``) called from every
call tier (``tier``).  C reaches the callbacks through fastffi Functions made
from their address, and through the fixture's C callers
(tests/fixture/callback_core.c)."""
from __future__ import annotations

import ctypes
import gc
import os
import sys
import threading

import pytest

import fastffi
from fastffi import _core
from conftest import SCALAR_LIMITS, raises_exact, struct_tier
from test_audit import run as audit_run

def caller(cb, tier="auto", **options):
    """A fastffi Function calling `cb` through its address, as C does."""
    return fastffi.function(cb.address, cb.restype, list(cb.argtypes), tier=tier, **options)


# ---- creation ----

@pytest.mark.parametrize("text, shown", [
    ("int cmp(const void *a, const void *b)", "i32 cmp(pointer, pointer)"),
    ("int(const void *, const void *)", "i32 callback(pointer, pointer)"),
    ("int (*)(const void *, const void *)", "i32 callback(pointer, pointer)"),
    ("void (*)(void)", "void callback()"),
    ("double scale(double x, float by)", "f64 scale(f64, f32)"),
])
def test_signature_forms(text, shown, callback_tier):
    cb = fastffi.callback(text, lambda *a: 0, tier=callback_tier)
    assert cb.signature == shown
    assert cb.tier == callback_tier
    assert isinstance(cb.address, int) and cb.address != 0
    assert cb.closed is False


def test_restype_argtypes_form_and_decorator():
    @fastffi.callback(("i64", ["i32", "f64"]))
    def f(a, b):
        return a * 2 + int(b)

    assert isinstance(f, fastffi.Callback)
    assert f.signature == "i64 callback(i32, f64)"
    assert f.restype == "i64" and f.argtypes == ("i32", "f64")
    assert caller(f)(20, 2.5) == 42
    assert f(20, 2.5) == 42          # from Python: func itself
    assert f.func(1, 1.0) == 3


def test_bad_signatures():
    with raises_exact(TypeError, "a callback signature is a C function type or declaration, or (restype, "
                                 "argtypes); got int"):
        fastffi.callback(3, abs)
    with raises_exact(fastffi.SignatureError, "callback 'log': a variadic callback cannot read its arguments "
                                              "(C has no portable va_list from a callee's side)"):
        fastffi.callback("void log(const char *fmt, ...)", print)
    with raises_exact(TypeError, "callback 'callback': func must be callable, got int"):
        fastffi.callback(("i32", []), 5)
    with raises_exact(TypeError, "callback 'callback': onerror must be None or callable, got str"):
        fastffi.callback(("i32", []), abs, onerror="x")
    with raises_exact(ValueError, "unknown tier 'fast' (expected 'auto', 'jit', 'plan' or 'libffi')"):
        fastffi.callback(("i32", []), abs, tier="fast")


def test_explain_and_repr(callback_tier):
    cb = fastffi.callback("long twice(long x)", lambda x: 2 * x, tier=callback_tier)
    text = cb.explain()
    assert text.splitlines()[:2] == ["i64 twice(i64)", f"tier: {callback_tier}"]
    assert repr(cb) == f"<fastffi.Callback i64 twice(i64) at {hex(cb.address)}, {callback_tier}>"
    cb.close()
    assert repr(cb) == "<fastffi.Callback i64 twice(i64), closed>"


def test_libffi_explain_names_its_memory():
    cb = fastffi.callback(("i32", ["i32"]), abs, tier="libffi")
    assert ("  libffi closure (ffi_closure_alloc): libffi's allocator may map writable+executable memory where "
            "the system allows it (a double mapping where it does not); FASTFFI_TIER=plan uses the static pool "
            "only") in cb.explain().splitlines()


def test_ceiling_lowers_the_request(monkeypatch):
    monkeypatch.setenv("FASTFFI_TIER", "libffi")
    cb = fastffi.callback(("i32", ["i32"]), abs, tier="jit")
    assert cb.tier == "libffi"
    assert cb.explain().splitlines()[2:4] == ["  jit refused: above the FASTFFI_TIER ceiling",
                                              "  plan refused: above the FASTFFI_TIER ceiling"]


# ---- the per-signature spec cache (tiers/callback.py) ----

def test_callbacks_of_one_signature_share_its_spec_but_nothing_of_their_own(lib, callback_tier):
    # The second and later callbacks of a signature reuse its spec: func, onerror and error
    # must still be each callback's own.
    call = lib.function("long cbcore_call_long(long (*f)(long), long x)")
    seen = []

    def boom(x):
        raise ValueError(x)

    a = fastffi.callback("long f(long)", lambda x: x + 1, tier=callback_tier)
    b = fastffi.callback("long f(long)", lambda x: x * 10, error=-3, tier=callback_tier)
    c = fastffi.callback("long f(long)", boom, error=-4, tier=callback_tier)
    d = fastffi.callback("long f(long)", boom, error=-5, tier=callback_tier,
                         onerror=lambda t, e, tb: seen.append(str(e)) or 77)
    assert len({a.address, b.address, c.address, d.address}) == 4
    assert {a.tier, b.tier, c.tier, d.tier} == {callback_tier}
    assert (call(a, 4), call(b, 4), call(d, 9)) == (5, 40, 77)
    with pytest.raises(ValueError):   # held by the call that was passed c
        call(c, 1)
    assert seen == ["9"]
    with raises_exact(OverflowError, "callback 'f' error value: 1180591620717411303424 does not fit i64"):
        fastffi.callback("long f(long)", abs, error=2**70, tier=callback_tier)


def test_the_cached_spec_keeps_no_func_alive(callback_tier):
    import weakref

    def f(x):
        return x

    fastffi.callback("int g(int)", abs, tier=callback_tier).close()   # the signature's spec cached
    cb = fastffi.callback("int g(int)", f, tier=callback_tier)
    ref = weakref.ref(f)
    del f
    cb.close()
    del cb
    gc.collect()
    assert ref() is None


def test_the_ceiling_is_read_at_every_creation_of_a_cached_signature(monkeypatch):
    first = fastffi.callback(("i32", ["i32"]), abs)
    monkeypatch.setenv("FASTFFI_TIER", "libffi")
    assert fastffi.callback(("i32", ["i32"]), abs).tier == "libffi"
    monkeypatch.delenv("FASTFFI_TIER")
    assert fastffi.callback(("i32", ["i32"]), abs).tier == first.tier


def test_creation_is_audited():
    """In a subprocess: audit hooks cannot be removed (tests/test_audit.py)."""
    events = audit_run("""
        import fastffi
        fastffi.callback("int cmp(int a)", abs)
        """)
    assert events == [["fastffi.callback", ["i32 cmp(i32)", "<built-in function abs>"]]]


# ---- conversions ----

@pytest.mark.parametrize("kind", sorted(SCALAR_LIMITS))
def test_every_scalar_at_its_limits_both_ways(kind, callback_tier, tier):
    got = []

    def echo(v):
        got.append(v)
        return v

    cb = fastffi.callback((kind, [kind]), echo, tier=callback_tier)
    call = caller(cb, tier)
    for v in SCALAR_LIMITS[kind]:
        assert call(v) == v
        assert got[-1] == v and type(got[-1]) is type(v)


def test_many_arguments_reach_func_in_order(callback_tier, tier):
    kinds = ["i32", "f64"] * 10 + ["u8", "f32", "i64"]
    values = [i if k[0] in "iu" else i + 0.5 for i, k in enumerate(kinds)]
    cb = fastffi.callback(("f64", kinds), lambda *a: sum(a), tier=callback_tier)
    # The JIT calls at most 8 arguments: above that the plan tier takes the call.
    assert caller(cb, struct_tier(tier) if tier != "jit" else "plan")(*values) == sum(values)


def test_strings_const_char_is_str_other_char_pointers_are_addresses(callback_tier):
    got = []
    cb = fastffi.callback("void f(const char *s, char *buf, const char *none)", lambda *a: got.append(a),
                          tier=callback_tier)
    buf = fastffi.array("u8", b"xyz\0")
    caller(cb)("h\u00e9llo", buf, None)
    assert got == [("h\u00e9llo", fastffi.address_of(buf), None)]


def test_structs_by_value_both_ways():
    Pair = fastffi.struct("CbPair", [("a", "i32"), ("b", "f64")])

    def swap(p):
        assert type(p) is Pair
        return Pair(a=int(p.b), b=float(p.a))

    cb = fastffi.callback((Pair, [Pair]), swap, tier="libffi")
    out = caller(cb)(Pair(a=3, b=7.0))
    assert (out.a, out.b) == (7, 3.0)


def test_result_is_checked_like_an_argument(callback_tier, unraisable):
    cb = fastffi.callback("int f(int x)", lambda x: 2**40 + 5, error=-1, tier=callback_tier)
    assert caller(cb)(0) == -1      # never the truncated 5
    (report,) = unraisable
    assert report.exc_type is OverflowError
    assert str(report.exc_value) == "callback 'f' result: 1099511627781 does not fit i32"
    assert report.object is cb


def test_wrong_result_types(callback_tier, unraisable):
    cases = [
        ("int f(void)", lambda: "1", "callback 'f' result: expected i32, got str"),
        ("double f(void)", lambda: None, "callback 'f' result: expected f64, got NoneType"),
        ("void *f(void)", lambda: b"abc", "callback 'f' result: expected an address for pointer (an int, None, "
                                          "a Callback, a Function or fastffi memory), got bytes (its memory would "
                                          "be freed when the callback returns)"),
        ("const char *f(void)", lambda: "abc", "callback 'f' result: expected an address for string (an int, "
                                               "None, a Callback, a Function or fastffi memory), got str (its "
                                               "memory would be freed when the callback returns)"),
    ]
    for text, func, message in cases:
        cb = fastffi.callback(text, func, tier=callback_tier)
        assert caller(cb)() in (0, 0.0, None)
        report = unraisable.pop()
        assert (report.exc_type, str(report.exc_value)) == (TypeError, message)


def test_pointer_results(callback_tier):
    box = fastffi.new("i32", 5)
    other = fastffi.callback(("i32", []), lambda: 1)
    for value, expected in [(None, 0), (1234, 1234), (box, fastffi.address_of(box)), (other, other.address)]:
        cb = fastffi.callback("void *f(void)", lambda v=value: v, tier=callback_tier)
        assert caller(cb)() == expected


def test_function_pointer_result_takes_a_function(lib, callback_tier):
    # A Function passes wherever a pointer argument goes; a callback handing C a
    # function pointer (a loader's get_proc_address) must be able to return one,
    # including the Function fastffi itself gave back for a function-pointer result.
    cb_call = lib.function("long cb_call(long (*cb)(long), long x)")
    inc = fastffi.callback("long inc(long)", lambda x: x + 1)
    getter = fastffi.callback("long (*getf(void))(long)", lambda: inc)
    got = fastffi.function(getter.address, "long (*getf(void))(long)")()
    assert isinstance(got, fastffi.Function)
    for value in (cb_call, got):
        cb = fastffi.callback("void *f(void)", lambda v=value: v, tier=callback_tier)
        assert caller(cb)() == fastffi.address_of(value)
    cb = fastffi.callback("long (*getf(void))(long)", lambda: got, tier=callback_tier)
    assert fastffi.function(cb.address, "long (*getf(void))(long)")()(41) == 42


def test_closed_callback_result_is_refused(callback_tier, unraisable):
    # Its address is retired: handing it to C would be the dangling pointer a
    # closed Callback passed to a call or stored in memory is refused for.
    gone = fastffi.callback("long gone(long)", lambda x: x)
    gone.close()
    cb = fastffi.callback("void *f(void)", lambda: gone, error=None, tier=callback_tier)
    assert caller(cb)() == 0
    (report,) = unraisable
    assert report.exc_type is fastffi.CallbackClosedError
    assert str(report.exc_value) == "callback 'f' result: callback 'gone' is closed"


def test_function_pointer_result_must_match_its_type(callback_tier, unraisable):
    # C calls the result as the declared type: a Callback of another signature is refused,
    # as for a function-pointer parameter; C gets the error value (NULL), and a matching
    # Callback, a void * result, or an int address pass.
    inc = fastffi.callback("long inc(long)", lambda x: x + 1)
    other = fastffi.callback("int other(int)", lambda x: x)
    cb = fastffi.callback("long (*getf(void))(long)", lambda: other, tier=callback_tier)
    assert fastffi.function(cb.address, "long (*getf(void))(long)")() is None
    (report,) = unraisable
    assert report.exc_type is TypeError
    assert str(report.exc_value) == ("callback 'getf' result: expected a callback of type i64 (*)(i64), "
                                     "got callback 'other' of type i32 other(i32)")
    same = fastffi.callback("long (*getf(void))(long)", lambda: inc, tier=callback_tier)
    assert fastffi.function(same.address, "long (*getf(void))(long)")()(41) == 42
    untyped = fastffi.callback("void *f(void)", lambda: other, tier=callback_tier)
    assert caller(untyped)() == other.address
    with pytest.raises(TypeError) as info:
        fastffi.callback("long (*getf(void))(long)", lambda: inc, error=other, tier=callback_tier)
    assert str(info.value) == ("callback 'getf' error value: expected a callback of type i64 (*)(i64), "
                               "got callback 'other' of type i32 other(i32)")
    assert len(unraisable) == 1


def test_void_result_ignores_the_return_value(callback_tier, unraisable):
    cb = fastffi.callback("void f(int)", lambda x: "ignored", error=None, tier=callback_tier)
    assert caller(cb)(1) is None
    assert unraisable == []


# ---- errors ----

def test_error_value_is_checked_at_creation():
    with raises_exact(OverflowError, "callback 'f' error value: 1099511627776 does not fit i32"):
        fastffi.callback("int f(void)", abs, error=2**40)
    with raises_exact(TypeError, "callback 'f' error value: expected f64, got str"):
        fastffi.callback("double f(void)", abs, error="x")
    Pair = fastffi.struct("CbErrPair", [("a", "i32")])
    with raises_exact(TypeError, "callback 'callback' error value: expected CbErrPair, got int"):
        fastffi.callback((Pair, []), abs, error=5)


def test_an_exception_returns_error_and_reaches_unraisablehook(callback_tier, unraisable):
    def boom(x):
        raise KeyError("boom")

    cb = fastffi.callback("long f(long)", boom, error=-7, tier=callback_tier)
    assert caller(cb)(1) == -7
    (report,) = unraisable
    assert report.exc_type is KeyError and report.object is cb
    assert report.exc_traceback.tb_frame.f_code is boom.__code__


def test_struct_error_default_is_zero_filled(unraisable):
    Pair = fastffi.struct("CbZeroPair", [("a", "i32"), ("b", "f64")])
    cb = fastffi.callback((Pair, []), lambda: 1 / 0, tier="libffi")
    out = caller(cb)()
    assert (out.a, out.b) == (0, 0.0)
    fixed = fastffi.callback((Pair, []), lambda: 1 / 0, error=Pair(a=9, b=1.5), tier="libffi")
    out = caller(fixed)()
    assert (out.a, out.b) == (9, 1.5)
    assert [r.exc_type for r in unraisable] == [ZeroDivisionError, ZeroDivisionError]


def test_onerror(callback_tier, unraisable):
    seen = []

    def onerror(exc_type, exc, tb):
        seen.append((exc_type, str(exc), tb is not None))
        return 99

    cb = fastffi.callback("int f(int)", lambda x: 1 // x, onerror=onerror, error=-1, tier=callback_tier)
    assert caller(cb)(0) == 99
    assert caller(cb)(1) == 1
    try:
        1 // 0
    except ZeroDivisionError as e:   # its text changed in 3.14
        text = str(e)
    assert seen == [(ZeroDivisionError, text, True)]
    assert unraisable == []

    quiet = fastffi.callback("int f(int)", lambda x: 1 // x, onerror=lambda *e: None, error=-1, tier=callback_tier)
    assert caller(quiet)(0) == -1
    assert unraisable == []

    def broken(*exc):
        raise RuntimeError("onerror failed")

    loud = fastffi.callback("int f(int)", lambda x: 1 // x, onerror=broken, error=-2, tier=callback_tier)
    assert caller(loud)(0) == -2
    (report,) = unraisable
    assert (report.exc_type, str(report.exc_value), report.object) == (RuntimeError, "onerror failed", loud)

    unraisable.clear()
    wrong = fastffi.callback("int f(int)", lambda x: 1 // x, onerror=lambda *e: 2**40, error=-3, tier=callback_tier)
    assert caller(wrong)(0) == -3
    (report,) = unraisable
    assert (report.exc_type, str(report.exc_value)) == (OverflowError, "callback 'f' result: 1099511627776 does "
                                                                       "not fit i32")


def test_errno_is_what_c_left(lib, callback_tier):
    def touch():
        try:
            os.stat("/nonexistent/fastffi")   # sets errno to ENOENT in C
        except FileNotFoundError:
            pass
        return 0

    cb = fastffi.callback("int f(void)", touch, tier=callback_tier)
    across = lib.function("int cbcore_errno_across(int (*f)(void), int value)")
    assert across(cb.address, 1234) == 1234


# ---- lifetime ----

def test_close_retires_the_address(callback_tier, unraisable):
    cb = fastffi.callback("int f(int)", lambda x: x + 1, error=-5, tier=callback_tier)
    call = caller(cb)
    assert call(1) == 2
    address = cb.address
    cb.close()
    cb.close()                       # idempotent
    assert cb.closed and cb.address == address
    assert call(1) == -5
    (report,) = unraisable
    assert report.exc_type is fastffi.CallbackClosedError
    assert str(report.exc_value) == "callback 'f' was called after it was closed; C got its error value"
    with raises_exact(fastffi.CallbackClosedError, "callback 'f' is closed"):
        cb(1)
    assert issubclass(fastffi.CallbackClosedError, (fastffi.FFIError, ValueError))


def test_context_manager(callback_tier):
    with fastffi.callback("int f(int)", abs, tier=callback_tier) as cb:
        assert caller(cb)(-3) == 3
    assert cb.closed
    with raises_exact(fastffi.CallbackClosedError, "callback 'f' is closed"):
        with cb:
            pass


def test_dropping_the_last_reference_retires_it(callback_tier, unraisable):
    cb = fastffi.callback("int f(int)", abs, error=-9, tier=callback_tier)
    call = caller(cb)
    del cb
    gc.collect()
    assert call(-3) == -9
    assert unraisable[0].exc_type is fastffi.CallbackClosedError


def test_a_cycle_through_func_is_collected(callback_tier, unraisable):
    box = []

    def f(x, box=box):
        return box[0].address != 0

    cb = fastffi.callback("int f(int)", f, error=-4, tier=callback_tier)
    box.append(cb)            # cb -> f -> box -> cb
    call = caller(cb)
    assert call(0) == 1
    del cb, box, f
    gc.collect()
    assert call(0) == -4


def test_a_stale_address_never_runs_a_newer_callback(callback_tier, unraisable):
    """The quarantine: no retired address is handed out again before
    CALLBACK_QUARANTINE later retirements."""
    first = fastffi.callback("int f(int)", lambda x: 1, error=-1, tier=callback_tier)
    old = first.address
    stale = caller(first)
    first.close()
    addresses = set()
    for i in range(_core.CALLBACK_QUARANTINE - 1):
        cb = fastffi.callback("int g(int)", lambda x: 2, tier=callback_tier)
        addresses.add(cb.address)
        cb.close()
    assert old not in addresses
    assert stale(0) == -1
    assert _core.callback_quarantined() == _core.CALLBACK_QUARANTINE


# ---- threads ----

def test_called_inside_a_call_that_released_the_gil(lib, callback_tier):
    cb = fastffi.callback("long f(long)", lambda x: x * 3, tier=callback_tier)
    sum_calls = lib.function("long cbcore_sum_calls(long (*f)(long), long n)", release_gil=True)
    assert sum_calls(cb.address, 1000) == 3 * sum(range(1000))


def test_a_foreign_thread_keeps_its_thread_state(lib, callback_tier):
    local = threading.local()
    idents = set()

    def f(i):
        local.count = getattr(local, "count", 0) + 1
        idents.add(threading.get_ident())
        return local.count

    cb = fastffi.callback("long f(long)", f, tier=callback_tier)
    in_thread = lib.function("long cbcore_sum_in_thread(long (*f)(long), long n)", release_gil=True)
    n = 10_000
    assert in_thread(cb.address, n) == n * (n + 1) // 2   # the local persisted over every call
    assert len(idents) == 1 and threading.get_ident() not in idents


def test_a_thread_state_another_ffi_makes_per_call_is_used_never_kept(lib, callback_tier):
    # ctypes makes a thread state for each call of its callback on a C thread and deletes it
    # after: a fastffi callback run inside (through a GIL-released fastffi call) must attach
    # that call's state -- never one remembered from an earlier call, which is freed by then.
    local = threading.local()
    seen = []

    def f(i):
        seen.append((local.mark, i))
        return i

    cb = fastffi.callback("long f(long)", f, tier=callback_tier)
    sum_calls = lib.function("long cbcore_sum_calls(long (*f)(long), long n)", release_gil=True)

    def outer(i):
        local.mark = i
        return sum_calls(cb.address, 3) + i

    proto = ctypes.CFUNCTYPE(ctypes.c_long, ctypes.c_long)
    outer_c = proto(outer)
    in_thread = lib.function("long cbcore_sum_in_thread(long (*f)(long), long n)", release_gil=True)
    n = 200
    assert in_thread(ctypes.cast(outer_c, ctypes.c_void_p).value, n) == n * (n - 1) // 2 + 3 * n
    assert seen == [(i, j) for i in range(n) for j in range(3)]


@pytest.mark.no_sanitizer  # RSS growth: ASan keeps freed blocks in quarantine
def test_short_lived_threads_give_their_state_back(lib, callback_tier):
    cb = fastffi.callback("long f(long)", lambda i: 1, tier=callback_tier)
    short = lib.function("long cbcore_short_threads(long (*f)(long), long n)", release_gil=True)
    short(cb.address, 100)
    before, blocks = _rss(), sys.getallocatedblocks()
    assert short(cb.address, 1000) == 1000
    assert sys.getallocatedblocks() - blocks < 200     # 1,000 thread states made and freed
    # Under qemu-user the RSS also counts the emulator's translation cache, which grows with
    # every new thread's code: the block count above is the check there.
    if os.environ.get("FASTFFI_EMULATOR") != "qemu-user":
        assert _rss() - before < 4 * 2**20


# ---- memory ----

def _rss() -> int:
    import resource
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


@pytest.mark.no_sanitizer
def test_a_million_invocations_do_not_grow_memory(lib, callback_tier):
    cb = fastffi.callback("long f(long)", lambda i: i & 1, tier=callback_tier)
    sum_calls = lib.function("long cbcore_sum_calls(long (*f)(long), long n)")
    sum_calls(cb.address, 50_000)
    rss0, blocks0 = _rss(), sys.getallocatedblocks()
    assert sum_calls(cb.address, 1_000_000) == 500_000
    assert sys.getallocatedblocks() - blocks0 < 200
    assert _rss() - rss0 < 4 * 2**20


@pytest.mark.no_sanitizer
def test_create_close_cycles_do_not_grow_memory(callback_tier):
    def cycle(n):
        for _ in range(n):
            fastffi.callback("int f(int)", abs, tier=callback_tier).close()

    cycle(2 * _core.CALLBACK_QUARANTINE)   # the quarantine full: from here every retirement frees one
    rss0, blocks0 = _rss(), sys.getallocatedblocks()
    cycle(100_000)
    gc.collect()
    assert sys.getallocatedblocks() - blocks0 < 500
    assert _rss() - rss0 < 4 * 2**20
