"""Callbacks passed to calls: a Callback for a pointer or function-pointer
parameter (its address; closed or of another signature: an error), a plain
callable wrapped for one call, and exceptions a callback raises while C runs
it -- raised from the call that was passed it, on every tier."""
from __future__ import annotations

import gc
import os
import struct
import sys
import weakref

import pytest

import fastffi
from fastffi.errors import CallbackClosedError

from conftest import raises_exact


def fn(lib, decl, tier):
    f = lib.function(decl, tier=tier)
    assert f.tier == tier
    return f


CALL = "long cb_call(long (*cb)(long), long x)"


def test_callback_for_a_function_pointer(lib, tier):
    call = fn(lib, CALL, tier)
    cb = fastffi.callback("long twice(long)", lambda x: 2 * x)
    assert call(cb, 21) == 42
    assert call(cb, -(2**62)) == -(2**63)


def test_callback_for_void_pointer_any_signature(lib, tier):
    call = fn(lib, "long cb_call_void(void *cb, long x)", tier)
    assert call(fastffi.callback("long neg(long)", lambda x: -x), 5) == -5
    # void * takes any Callback: C decides what it points to.
    assert call(fastffi.callback("long f(long)", lambda x: x + 1), 5) == 6


def test_callback_address_is_what_c_gets(lib, tier):
    call = fn(lib, "long cb_call_void(void *cb, long x)", tier)
    cb = fastffi.callback("long add1(long)", lambda x: x + 1)
    assert fastffi.address_of(cb) == cb.address
    assert call(cb.address, 1) == 2   # the address as an int reaches the same code


def test_list_form_pointer_takes_a_callback(lib, tier):
    call = lib.function("cb_call", "i64", ["pointer", "i64"], tier=tier)
    assert call(fastffi.callback("long f(long)", lambda x: x * 3), 3) == 9


def test_closed_callback_is_refused(lib, tier):
    call = fn(lib, CALL, tier)
    cb = fastffi.callback("long f(long)", lambda x: x)
    cb.close()
    with raises_exact(CallbackClosedError, "cb_call() argument 1: callback 'f' is closed"):
        call(cb, 1)
    void = fn(lib, "long cb_call_void(void *cb, long x)", tier)
    with raises_exact(CallbackClosedError, "cb_call_void() argument 1: callback 'f' is closed"):
        void(cb, 1)
    assert issubclass(CallbackClosedError, fastffi.FFIError) and issubclass(CallbackClosedError, ValueError)


def test_signature_mismatch_names_both(lib, tier):
    call = fn(lib, CALL, tier)
    cb = fastffi.callback("int cmp(const void *a, const void *b)", lambda a, b: 0)
    with raises_exact(TypeError, "cb_call() argument 1: expected a callback of type i64 (*)(i64), "
                                 "got callback 'cmp' of type i32 cmp(pointer, pointer)"):
        call(cb, 1)
    narrow = fastffi.callback("int f(int)", lambda x: x)
    with raises_exact(TypeError, "cb_call() argument 1: expected a callback of type i64 (*)(i64), "
                                 "got callback 'f' of type i32 f(i32)"):
        call(narrow, 1)


def test_signature_match_ignores_const_names_and_spelling(lib, tier):
    call = fn(lib, CALL, tier)
    for spelling in ("long (*)(long)", "long(long)", "long g(long value)", ("long", ["long"]), ("i64", ["i64"])):
        assert call(fastffi.callback(spelling, lambda x: x - 1), 10) == 9
    slot = fn(lib, "long cb_call_const(long (*cb)(const char *), const char *s)", tier)
    # const on a pointee and parameter names are not part of the type compared.
    assert slot(fastffi.callback("long n(char const *text)", len), "four") == 4
    with raises_exact(TypeError, "cb_call_const() argument 1: expected a callback of type i64 (*)(string), "
                                 "got callback 'n' of type i64 n(pointer)"):
        slot(fastffi.callback("long n(const void *p)", lambda p: 0), "x")


def test_plain_callable_is_wrapped_for_the_call(lib, tier):
    call = fn(lib, CALL, tier)
    seen = []

    def square(x):
        seen.append(x)
        return x * x

    assert call(square, 12) == 144
    assert call(lambda x: x + 100, 1) == 101
    assert seen == [12]


def test_wrapped_callable_is_closed_and_dropped_after_the_call(lib, tier):
    store = fn(lib, "void cb_store(long (*cb)(long))", tier)

    class F:
        def __call__(self, x):
            return x

    f = F()
    ref = weakref.ref(f)
    store(f)
    del f
    gc.collect()
    assert ref() is None   # the temporary Callback held it for the call only


def test_wrapped_callable_called_later_reports_closed(lib, tier, unraisable):
    store = fn(lib, "void cb_store(long (*cb)(long))", tier)
    call_stored = fn(lib, "long cb_call_stored(long x)", tier)
    ran = []
    store(lambda x: ran.append(x) or 7)
    assert call_stored(3) == 0   # the error value, not the function
    assert ran == []
    [(exc, obj)] = [(r.exc_value, r.object) for r in unraisable]
    assert type(exc) is CallbackClosedError
    assert str(exc) == "callback '<lambda>' was called after it was closed; C got its error value"


def test_non_callable_for_a_function_pointer(lib, tier):
    call = fn(lib, CALL, tier)
    with raises_exact(TypeError, "cb_call() argument 1: expected pointer, got str"):
        call("f", 1)
    void = fn(lib, "long cb_call_void(void *cb, long x)", tier)
    with raises_exact(TypeError, "cb_call_void() argument 1: expected pointer, got function"):
        void(lambda x: x, 1)   # a void * declares no signature to wrap a callable in


def test_ints_none_and_functions_still_pass_for_a_function_pointer(lib, tier):
    call = fn(lib, CALL, tier)
    negate = lib.function("long cb_negate(long x)")
    assert call(negate, 8) == -8   # a C function is a function pointer already
    cb = fastffi.callback("long f(long)", lambda x: x + 5)
    assert call(cb.address, 1) == 6
    maybe = fn(lib, "long cb_call_or(long (*cb)(long), long x)", tier)
    assert maybe(None, 4) == 4   # NULL


# ---- held exceptions ----

def test_exception_is_raised_from_the_call(lib, tier):
    call = fn(lib, CALL, tier)

    def boom(x):
        raise KeyError(x)

    cb = fastffi.callback("long boom(long)", boom)
    with pytest.raises(KeyError) as info:
        call(cb, 17)
    assert info.value.args == (17,)
    with pytest.raises(KeyError):
        call(boom, 18)   # a wrapped callable's exception too


def test_result_conversion_error_is_raised_from_the_call(lib, tier):
    call = fn(lib, CALL, tier)
    cb = fastffi.callback("long big(long)", lambda x: 2**64)
    with raises_exact(OverflowError, "callback 'big' result: 18446744073709551616 does not fit i64"):
        call(cb, 1)


def test_first_exception_raised_later_ones_reported(lib, tier, unraisable):
    total = fn(lib, "long cb_sum(long (*cb)(long), long n)", tier)

    def fail(i):
        raise ValueError(i)

    cb = fastffi.callback("long fail(long)", fail)
    with pytest.raises(ValueError) as info:
        total(cb, 4)
    assert info.value.args == (0,)
    assert [(r.exc_type, r.exc_value.args, r.object) for r in unraisable] == [(ValueError, (i,), cb) for i in (1, 2, 3)]


def test_two_callbacks_first_raised_wins(lib, tier, unraisable):
    both = fn(lib, "long cb_call_both(long (*a)(long), long (*b)(long), long x)", tier)

    def a(x):
        raise LookupError("a")

    def b(x):
        raise ArithmeticError("b")

    with pytest.raises(LookupError):
        both(a, b, 1)
    [exc] = [r.exc_value for r in unraisable]
    assert type(exc) is ArithmeticError


def test_onerror_sees_it_instead(lib, tier, unraisable):
    call = fn(lib, CALL, tier)
    seen = []

    def onerror(t, e, tb):
        seen.append(t)
        return -9

    cb = fastffi.callback("long f(long)", lambda x: 1 // 0, onerror=onerror)
    assert call(cb, 1) == -9
    assert seen == [ZeroDivisionError] and unraisable == []


def test_callback_registered_earlier_goes_to_unraisable(lib, tier, unraisable):
    store = fn(lib, "void cb_store(long (*cb)(long))", tier)
    call_stored = fn(lib, "long cb_call_stored(long x)", tier)

    def boom(x):
        raise KeyError("later")

    cb = fastffi.callback("long boom(long)", boom, error=-1)
    store(cb)
    assert call_stored(1) == -1   # this call was not passed the callback: nothing is raised from it
    [(exc, obj)] = [(r.exc_value, r.object) for r in unraisable]
    assert type(exc) is KeyError and obj is cb


def test_nested_calls_each_hold_their_own(lib, tier, unraisable):
    call = fn(lib, CALL, tier)

    def inner(x):
        raise IndexError("inner")

    def outer(x):
        with pytest.raises(IndexError):
            call(inner, x)   # the inner call raises its callback's exception
        return x + 1

    assert call(outer, 1) == 2
    assert unraisable == []


def test_no_exception_left_behind(lib, tier):
    call = fn(lib, CALL, tier)
    cb = fastffi.callback("long f(long)", lambda x: x)
    for i in range(100):
        assert call(cb, i) == i
    assert sys.exc_info() == (None, None, None)


def test_conversion_failure_after_a_callback_releases_its_scope(lib, tier, unraisable):
    both = fn(lib, "long cb_call_both(long (*a)(long), long (*b)(long), long x)", tier)
    cb = fastffi.callback("long f(long)", lambda x: x)
    with raises_exact(TypeError, "cb_call_both() argument 3: expected i64, got str"):
        both(cb, cb, "x")
    # the stack of scopes is empty again: a callback registered earlier reports.
    store = fn(lib, "void cb_store(long (*cb)(long))", tier)
    call_stored = fn(lib, "long cb_call_stored(long x)", tier)
    store(cb)

    def boom(x):
        raise KeyError

    bad = fastffi.callback("long f(long)", boom)
    store(bad)
    assert call_stored(0) == 0
    assert len(unraisable) == 1


def test_release_gil_call_holds_the_exception(lib, tier):
    call = lib.function(CALL, tier=tier, release_gil=True)

    def boom(x):
        raise KeyError(x)

    with pytest.raises(KeyError):
        call(boom, 3)
    assert call(lambda x: x * 2, 4) == 8


def test_variadic_call_holds_the_exception(lib, tier):
    call = lib.function("long cb_call_va(long x, ...)", tier=tier)
    assert call(4, fastffi.callback("long sq(long)", lambda x: x * x)) == 16

    def boom(x):
        raise KeyError(x)

    with pytest.raises(KeyError) as info:
        call(9, fastffi.callback("long boom(long)", boom))
    assert info.value.args == (9,)
    assert call.variadic("void *")(5, fastffi.callback("long f(long)", lambda x: -x)) == -5


def test_variadic_takes_a_callback_as_void_pointer(lib, tier):
    libc = fastffi.dlopen("libc.so.6")
    # printf-family calls read the pointer as %p: the Callback is its address.
    snprintf = libc.function("int snprintf(char *buf, size_t n, const char *fmt, ...)", tier=tier)
    cb = fastffi.callback("long f(long)", lambda x: x)
    buf = bytearray(64)
    n = snprintf(buf, 64, "%p", cb)
    assert buf[:n].decode() == hex(cb.address)


def test_map_broadcast_callback(lib, tier):
    call = fn(lib, CALL, tier)
    cb = fastffi.callback("long inc(long)", lambda x: x + 1)
    out = fastffi.array("long", 5)
    call.map(cb, fastffi.array("long", [1, 2, 3, 4, 5]), out=out)
    assert list(out) == [2, 3, 4, 5, 6]


def test_map_holds_the_exception(lib, tier, unraisable):
    call = fn(lib, CALL, tier)

    def boom(x):
        raise KeyError(x)

    cb = fastffi.callback("long boom(long)", boom)
    out = fastffi.array("long", 3)
    with pytest.raises(KeyError) as info:
        call.map(cb, fastffi.array("long", [1, 2, 3]), out=out)
    assert info.value.args == (1,)
    assert [r.exc_value.args for r in unraisable] == [(2,), (3,)]
    cb.close()
    with raises_exact(CallbackClosedError, "cb_call.map() argument 1: callback 'boom' is closed"):
        call.map(cb, fastffi.array("long", [1]), out=out)


def test_shared_call_holds_its_callbacks_exception(lib, tier):
    call = fn(lib, CALL, tier)
    sb = call.shared()

    def boom(x):
        raise KeyError(x)

    cb = fastffi.callback("long boom(long)", boom)
    ok = fastffi.callback("long ok(long)", lambda x: x * 3)
    struct.pack_into(sb.format, sb.args, 0, ok.address, 5)
    sb.callbacks = [ok]
    sb()
    assert struct.unpack("q", sb.result)[0] == 15
    struct.pack_into(sb.format, sb.args, 0, cb.address, 6)
    sb.callbacks = (cb,)
    with pytest.raises(KeyError) as info:
        sb()
    assert info.value.args == (6,)
    assert sb.callbacks == (cb,)
    with raises_exact(TypeError, "cb_call.shared().callbacks: item 0: expected Callback, got int"):
        sb.callbacks = [cb.address]


def _snapshot():
    gc.collect()
    with open("/proc/self/statm") as f:
        rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return rss, sys.getallocatedblocks()


@pytest.mark.no_sanitizer  # RSS growth: ASan keeps freed blocks in quarantine
def test_many_calls_passed_callbacks_do_not_grow_memory(lib, tier, unraisable):
    call = fn(lib, CALL, tier)
    total = fn(lib, "long cb_sum(long (*cb)(long), long n)", tier)
    cb = fastffi.callback("long f(long)", lambda x: x + 1)

    def boom(x):
        raise KeyError(x)

    def rounds(n):
        for i in range(n):
            assert call(cb, i) == i + 1
            assert call(lambda x: x, i) == i        # a temporary Callback per call, retired after it
            with pytest.raises(KeyError):
                total(boom, 2)                        # held, raised; the second goes to the hook
        unraisable.clear()

    rounds(6000)   # past the quarantine of retired temporaries (4,096): their slots come back
    before = _snapshot()
    rounds(6000)
    rss, blocks = _snapshot()
    assert blocks - before[1] < 500, f"allocated blocks grew by {blocks - before[1]}"
    # Under qemu-user the process's RSS includes the emulator's translation cache, which grows as
    # each temporary's closure code is first run at a new address: the blocks above are the check.
    if os.environ.get("FASTFFI_EMULATOR") != "qemu-user":
        assert rss - before[0] < 4 * 2**20, f"RSS grew by {(rss - before[0]) / 2**20:.1f} MiB"


def test_checks_describe_function_pointer_parameters():
    from fastffi.cdecl.spelling import parse_declaration
    from fastffi.tiers import checks
    a = parse_declaration("void qsort(void *b, size_t n, size_t s, int (*compar)(const void *, const void *))")
    b = parse_declaration("void *bsearch(const void *k, const void *b, size_t n, size_t s, "
                          "int (*cmp)(const void *x, const void *y))")
    flags_a, pointees_a = checks.argument_checks(a.argtypes)
    flags_b, pointees_b = checks.argument_checks(b.argtypes)
    assert flags_a[3] & checks.FUNCTION and not flags_a[0] & checks.FUNCTION
    key, text, wrap = pointees_a[3]
    assert text == "i32 (*)(pointer, pointer)" and callable(wrap)
    assert pointees_a[0] is None   # void *: any pointer, any Callback
    # one parameter type, one description (and one maker): names and const do not count
    assert pointees_b[4] is pointees_a[3]
    cb = fastffi.callback("int cmp(const void *, const void *)", lambda a, b: 0)
    assert cb.key == key
