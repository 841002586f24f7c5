"""The ``jit`` callback mechanism (fastffi/tiers/jit/thunk.py, _core/callbacks/
thunk.c): what the thunk does itself -- box registers (whose bits above a
narrow argument are garbage: tests/fixture/callback_thunk.c), convert the
result inline or by the full conversion -- and what it hands to the generic
dispatcher (foreign threads, GIL-released calls, closed callbacks, the
recursion limit); shape sharing, blocks of stubs, explain(), refusals.  The
shared callback tests (test_callback_core.py) run on this mechanism too."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

import fastffi
from fastffi import _core
from fastffi.tiers.jit import thunk
from conftest import SCALAR_LIMITS, raises_exact

pytestmark = pytest.mark.skipif(thunk.platform_refusal() is not None,
                                reason=f"jit callbacks refused here: {thunk.platform_refusal()}")

def jit(signature, func, **options):
    cb = fastffi.callback(signature, func, tier="jit", **options)
    assert cb.tier == "jit"
    return cb


def caller(cb, **options):
    """C calling `cb` at its address: a plan-tier Function (plain machine code
    for the call, whatever tier made the callback)."""
    return fastffi.function(cb.address, cb.restype, list(cb.argtypes), tier="plan", **options)


# ---- values both ways ----

@pytest.mark.parametrize("kind", sorted(SCALAR_LIMITS))
def test_every_scalar_at_its_limits_both_ways(kind):
    got = []
    cb = jit((kind, [kind]), lambda v: got.append(v) or v)
    call = caller(cb)
    for v in SCALAR_LIMITS[kind]:
        assert call(v) == v
        assert got[-1] == v and type(got[-1]) is type(v)


@pytest.mark.parametrize("kind, value", [
    ("i64", 2**40 + 5), ("i64", -2**40), ("u64", 2**63), ("i32", 2**30), ("u32", 2**31),
    ("f64", 7), ("f32", 3), ("bool", 1), ("pointer", 2**40), ("u8", True),
])
def test_results_the_inline_checks_leave_to_the_full_conversion(kind, value):
    """Beyond one digit, an int for a float, anything but True/False for a
    bool, any int for a pointer: the body's slow exit converts them exactly
    as an argument of a call."""
    cb = jit((kind, []), lambda: value)
    assert caller(cb)() == (float(value) if kind in ("f32", "f64") else bool(value) if kind == "bool" else value)


@pytest.mark.parametrize("kind, value, message", [
    ("i8", 128, "callback 'callback' result: 128 does not fit i8"),
    ("u32", -1, "callback 'callback' result: -1 does not fit u32"),
    ("i64", 2**63, "callback 'callback' result: 9223372036854775808 does not fit i64"),
])
def test_out_of_range_results_are_reported_never_truncated(kind, value, message, unraisable):
    cb = jit((kind, []), lambda: value, error=7)
    assert caller(cb)() == 7
    (report,) = unraisable
    assert report.exc_type is OverflowError and str(report.exc_value) == message and report.object is cb


def test_strings_and_char_pointers():
    got = []
    cb = jit("int f(const char *s, char *buf, const char *none)", lambda *a: got.append(a) or len(got))
    buf = fastffi.array("u8", b"xy\0")
    assert caller(cb)("h\u00e9llo", buf, None) == 1
    assert got == [("h\u00e9llo", fastffi.address_of(buf), None)]


def test_void_results_and_no_arguments():
    seen = []
    cb = jit("void tick(void)", lambda: seen.append(1) or "ignored")
    caller(cb)()
    caller(cb)()
    assert seen == [1, 1]


def test_stack_arguments_in_order(lib):
    got = []

    def f(*args):
        got.append(args)
        return sum(args)

    cb = jit(("f64", ["i8", "i64", "u16", "i32", "u8", "i64", "i16", "u32", "i64",
                      "f64", "f64", "f64", "f64", "f32", "f64", "f64", "f64", "f32"]), f)
    call_many = lib.function("double cbthunk_call_many(void *f)")
    expected = (-5, 2**40, 65535, -7, 200, -2**50, -300, 4000000000, 9, 0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, -8.5)
    assert call_many(cb.address) == sum(expected)
    assert got == [expected]


def test_garbage_above_narrow_integer_arguments(lib):
    got = []
    cb = jit(("i64", ["i8", "u8", "i16", "u16", "i32", "u32"]), lambda *a: got.append(a) or 5)
    dirty6 = lib.function("uint64_t cbthunk_dirty6(void *f, const uint64_t *regs)")
    regs = fastffi.array("u64", [0xDEADBEEFCAFE0080, 0xDEADBEEFCAFE00FF, 0x123456789ABC8000,
                                 0x123456789ABCFFFF, 0x0123456780000000, 0xFEDCBA98FFFFFFFF])
    assert dirty6(cb.address, regs) == 5
    assert got == [(-128, 255, -32768, 65535, -2**31, 2**32 - 1)]


def test_garbage_above_bool_arguments(lib):
    got = []
    cb = jit(("u8", ["bool", "bool", "bool", "bool", "bool", "bool"]), lambda *a: got.append(a) or 255)
    dirty6 = lib.function("uint64_t cbthunk_dirty6(void *f, const uint64_t *regs)")
    regs = fastffi.array("u64", [0x1234567801, 0xFFFFFFFFFFFFFF00, 1, 0, 0xFF00, 0xAB])
    assert dirty6(cb.address, regs) == 255    # the u8 result, widened: nothing above it
    assert got == [(True, False, True, False, False, True)]


def test_garbage_above_f32_arguments(lib):
    got = []
    cb = jit(("f32", ["f32", "f32"]), lambda a, b: got.append((a, b)) or a * b)
    dirty_fp = lib.function("uint64_t cbthunk_dirty_fp(void *f, uint64_t v0, uint64_t v1)")
    bits = dirty_fp(cb.address, 0xDEADBEEF3FC00000, 0x12345678C0200000)   # 1.5, -2.5
    assert got == [(1.5, -2.5)]
    assert bits & 0xFFFFFFFF == 0xC0700000                                 # -3.75 in the low half


# ---- errors and closed callbacks: the generic dispatcher ----

def test_an_exception_returns_error_and_reaches_unraisablehook(unraisable):
    def boom(x):
        raise KeyError("boom")

    cb = jit("long f(long)", boom, error=-7)
    assert caller(cb)(1) == -7
    (report,) = unraisable
    assert report.exc_type is KeyError and report.object is cb
    assert report.exc_traceback.tb_frame.f_code is boom.__code__


def test_a_wrong_result_type_goes_to_onerror():
    seen = []

    def onerror(exc_type, exc, tb):
        seen.append((exc_type, str(exc)))
        return 11

    cb = jit("int f(int)", lambda x: "nope", onerror=onerror, error=-1)
    assert caller(cb)(3) == 11
    assert seen == [(TypeError, "callback 'f' result: expected i32, got str")]


def test_a_closed_callback_reports_and_returns_error(unraisable):
    cb = jit("int f(int)", lambda x: x + 1, error=-5)
    call = caller(cb)
    assert call(1) == 2
    cb.close()
    assert call(1) == -5
    (report,) = unraisable
    assert report.exc_type is fastffi.CallbackClosedError
    assert str(report.exc_value) == "callback 'f' was called after it was closed; C got its error value"


@pytest.mark.parametrize("tier", ["jit", "libffi"])
def test_func_may_close_its_own_callback(tier, unraisable):
    """The invocation keeps the target it began with: a result converted
    inline or in full, and an exception, still reach C after func closed the
    callback (once crashed in both the thunk and the generic dispatcher)."""
    def closing(result):
        def f(x):
            cbs[-1].close()
            if result is None:
                raise ValueError("closed and failed")
            return result
        return f

    cbs, got = [], []
    for result in (7, 2**40, None):
        cbs.append(fastffi.callback("long f(long)", closing(result), tier=tier, error=-3))
        got.append(caller(cbs[-1])(1))
        assert cbs[-1].closed
    assert got == [7, 2**40, -3]
    assert [r.exc_type for r in unraisable] == [ValueError]


def test_gil_released_and_foreign_thread_calls(lib):
    idents = set()

    def f(i):
        idents.add(threading.get_ident())
        return 2 * i

    cb = jit("long f(long)", f)
    released = lib.function("long cbthunk_sum(long (*f)(long), long n)", release_gil=True)
    assert released(cb.address, 1000) == 2 * sum(range(1000))
    assert idents == {threading.get_ident()}
    in_thread = lib.function("long cbcore_sum_in_thread(long (*f)(long), long n)", release_gil=True)
    assert in_thread(cb.address, 500) == 2 * sum(range(500))
    assert len(idents) == 2


def test_recursion_through_c_ends_at_the_limit_not_in_a_crash(lib):
    """A callback that calls C that calls it again: past the recursion limit
    the innermost call returns the error value (its RecursionError goes to
    sys.unraisablehook -- which cannot itself run at the very limit, so the
    report is not asserted) and every outer one returns normally."""
    sum_calls = lib.function("long cbthunk_sum(long (*f)(long), long n)")
    depth = []

    def f(i):
        depth.append(1)
        return sum_calls(cb.address, 1) + 1

    cb = jit("long f(long)", f, error=-1)
    assert sum_calls(cb.address, 1) == len(depth) - 1     # -1 innermost, +1 per level
    assert 10 < len(depth) < sys.getrecursionlimit()


def test_callables_that_are_not_python_functions():
    class Doubler:
        def __call__(self, x):
            return 2 * x

        def triple(self, x):
            return 3 * x

    assert caller(jit("long f(long)", abs))(-9) == 9
    assert caller(jit("long f(long)", Doubler()))(21) == 42
    assert caller(jit("long f(long)", Doubler().triple))(5) == 15


def test_errno_is_what_c_left(lib):
    import os

    def touch():
        try:
            os.stat("/nonexistent/fastffi")
        except FileNotFoundError:
            pass
        return 0

    cb = jit("int f(void)", touch)
    across = lib.function("int cbcore_errno_across(int (*f)(void), int value)")
    assert across(cb.address, 4321) == 4321


# ---- code shared per shape ----

def _region_of(cb):
    sig_blocks = [ref() for refs in thunk._blocks.values() for ref in refs]
    (region,) = [b.region for b in sig_blocks if b is not None and b.region is not None
                 and b.region.address <= cb.address < b.region.address + b.region.used]
    return region


def test_callbacks_of_one_shape_share_the_body():
    a = jit("long f(long)", lambda x: x)
    b = jit("long g(long)", lambda x: -x)           # names do not matter
    c = jit("double h(double)", lambda x: x)
    assert _region_of(a) is _region_of(b)
    assert abs(a.address - b.address) % thunk.STUB_SIZE == 0 and a.address != b.address
    assert _region_of(c) is not _region_of(a)
    assert caller(a)(4) == 4 and caller(b)(4) == -4


def test_a_full_block_starts_another_and_stubs_are_distinct():
    made = [jit("short f(short, short)", lambda x, y, k=k: x + y + k) for k in range(thunk.STUBS + 1)]
    assert len({cb.address for cb in made}) == thunk.STUBS + 1
    assert len({id(_region_of(cb)) for cb in made}) == 2
    assert [caller(cb)(1, 2) for cb in (made[0], made[-1])] == [3, 3 + thunk.STUBS]


def test_a_stub_is_given_back_only_after_the_quarantine():
    """A retired callback keeps its stub through CALLBACK_QUARANTINE later
    retirements (test_callback_core.py checks what a call through it does);
    then the stub's word is cleared and the block may hand it out again."""
    import gc
    text = "u16 once(u16, i16, f32, u16)"      # a shape no other test uses
    cb = jit(text, lambda *a: 0)
    (block,) = [r() for r in thunk._blocks[thunk.shape_of(*_sig(text))]]
    assert block.free == thunk.STUBS - 1
    gc.collect()        # earlier tests' garbage retired now, not during the count below
    gc.disable()
    try:
        cb.close()
        del cb
        for _ in range(_core.CALLBACK_QUARANTINE - 1):
            fastffi.callback("void filler(void)", lambda: None, tier="libffi").close()
        assert block.free == thunk.STUBS - 1        # still quarantined
        fastffi.callback("void filler(void)", lambda: None, tier="libffi").close()
        assert block.free == thunk.STUBS
    finally:
        gc.enable()


def _sig(text):
    from fastffi.callbacks import _signature
    from fastffi.tiers.callback import _boxed_kind
    sig = _signature(text)
    return sig, bytes([_boxed_kind(t) for t in sig.argtypes])


# ---- explain() and refusals ----

def test_explain():
    cb = jit("long scale(long x, double by)", lambda x, by: int(x * by))
    region = _region_of(cb)
    body = thunk._templates[thunk.shape_of(*_sig("long scale(long x, double by)"))].body
    regs = {"sysv-x86_64": ("rdi", "xmm0", "rax"), "aapcs64": ("x0", "v0", "x0")}[thunk.emitter().NAME]
    assert cb.explain() == "\n".join([
        "i64 scale(i64, f64)",
        "tier: jit",
        f"  jit ({thunk.emitter().NAME}): a 32-byte stub at 0x{cb.address:x} (one of 64 in a {region.mapped}-byte "
        f"read+execute mapping) jumping to a {body}-byte body shared by every callback of the shape "
        "(i64->gp0, f64->fp0) -> i64",
        "    on any thread (the GIL taken when the calling thread does not hold it), the arguments are boxed "
        "straight into vectorcall arguments; a closed callback, the recursion limit or interpreter finalization "
        "goes to the generic dispatcher",
        "    registers as planned:",
        f"    arg 1 i64 -> {regs[0]}",
        f"    arg 2 f64 -> {regs[1]}",
        f"    ret i64 <- {regs[2]}",
    ])


def test_structs_are_refused_with_the_reason():
    Pair = fastffi.struct("ThunkPair", [("a", "i32"), ("b", "f64")])
    with raises_exact(fastffi.FFIError, "callback 'callback': tier 'jit' refused: argument 1 is a struct by value "
                                        "(the callback thunk takes scalars only)"):
        fastffi.callback(("i32", [Pair]), lambda p: 0, tier="jit")
    with raises_exact(fastffi.FFIError, "callback 'callback': tier 'jit' refused: the result is a struct by value "
                                        "(the callback thunk takes scalars only)"):
        fastffi.callback((Pair, []), lambda: Pair(), tier="jit")
    auto = fastffi.callback(("i32", [Pair]), lambda p: p.a)
    assert auto.tier != "jit"
    assert "  jit refused: argument 1 is a struct by value (the callback thunk takes scalars only)" in auto.explain()


def _run(code: str, **env) -> str:
    import os
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         env={**os.environ, **env}, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_refused_executable_memory_falls_back_to_the_pool_or_libffi():
    out = _run("""
        import fastffi
        cb = fastffi.callback("long f(long)", lambda x: x + 1)
        f = fastffi.function(cb.address, "i64", ["i64"], tier="plan")
        print(cb.tier, f(41))
        print(cb.explain().splitlines()[2])
    """, FASTFFI_TEST_DENY_EXEC="1")
    tier, value = out.splitlines()[0].split()
    assert tier in ("plan", "libffi") and value == "42"
    assert out.splitlines()[1] == "  jit refused: executable memory is refused here (W^X probe failed, errno 1)"


def test_the_ceiling_keeps_the_probe_from_running():
    out = _run("""
        import fastffi
        from fastffi import _core
        cb = fastffi.callback("long f(long)", lambda x: x + 1)
        print(cb.tier, _core.jit_probe_ran())
    """, FASTFFI_TIER="plan")
    assert out.split()[1] == "False" and out.split()[0] in ("plan", "libffi")
