"""Every call is counted in flight on its library (issue 13, "Libraries closed from a callback").

Once Python runs during a call, a callback can close the library whose function is running.
"open" holds the count at 1, each call adds one and drops it, and whoever drops it to 0 does the
dlclose: a close() from inside a call defers the unload until that call returns into Python.
fixture/function_pointers.c's fp_call_hook calls the hook and then adds 1 -- code of the library
that runs *after* the callback closed it.  The unloading cases run in a child process, so a tier
that unloads too early fails here instead of taking the test session down; dlopen(RTLD_NOLOAD)
says whether the library is still mapped."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import fastffi
from conftest import FIXTURE_DIR, compile_shared, raises_exact

TIERS = list(dict.fromkeys([*fastffi.available_tiers(), "libffi"]))


@pytest.fixture(scope="module")
def hook_lib_path(tmp_path_factory):
    """fixture/function_pointers.c alone, under a name no other test loads (so RTLD_NOLOAD sees
    only this test's handle)."""
    d = tmp_path_factory.mktemp("inflight")
    src = d / "function_pointers.c"
    shutil.copy(FIXTURE_DIR / "function_pointers.c", src)
    return compile_shared([src], d, "fastffi_inflight")


CHILD = textwrap.dedent("""
    import sys
    import fastffi

    path, tier, case = sys.argv[1:]

    def loaded():
        try:
            probe = fastffi.dlopen(path, mode=fastffi.RTLD_NOW | fastffi.RTLD_NOLOAD)
        except fastffi.LibraryError:
            return False
        probe.close()   # drops the reference the probe took
        return True

    lib = fastffi.dlopen(path)
    seen = []

    def hook(x):
        lib.close()
        seen.append((lib.closed, lib._handle.inflight, lib._handle.unloaded, loaded()))
        return 2 * x

    cb = fastffi.callback("int (*)(int)", hook)
    release = case == "release_gil"
    fn = lib.function("int fp_call_hook(int (*hook)(int), int x)", tier=tier, release_gil=release)
    assert fn.tier == tier, fn.tier
    if case == "map":
        import array
        out = array.array("i", [0, 0, 0])
        fn.map(array.array("Q", [cb.address] * 3), array.array("i", [1, 2, 3]), out=out)
        print("result", list(out))
    else:
        print("result", fn(cb.address, 20))
    print("during", *seen[0])
    print("after", lib.closed, lib._handle.inflight, lib._handle.unloaded, loaded())
    try:
        fn(cb.address, 1)
    except fastffi.LibraryClosedError as e:
        print(type(e).__name__, e)
""")


def run_child(path, tier, case):
    env = {k: v for k, v in os.environ.items() if k != "FASTFFI_TIER"}
    proc = subprocess.run([sys.executable, "-c", CHILD, path, tier, case], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


@pytest.mark.parametrize("case", ["call", "release_gil"])
@pytest.mark.parametrize("tier", TIERS)
def test_a_callback_closes_the_library_whose_call_is_running(hook_lib_path, tier, case):
    assert run_child(hook_lib_path, tier, case) == [
        "result 41",                        # fp_call_hook's own code ran after the close: 2 * 20 + 1
        "during True 1 False True",         # closed, this call still counted, not unloaded, still mapped
        "after True 0 True False",          # the call's return did the dlclose
        f"LibraryClosedError fp_call_hook(): library {hook_lib_path!r} is closed",
    ]


@pytest.mark.parametrize("tier", TIERS)
def test_a_callback_closes_the_library_during_map(hook_lib_path, tier):
    """A batch is one call in flight: every row still runs (the library is checked once, before
    the first), and the unload waits for the last."""
    lines = run_child(hook_lib_path, tier, "map")
    assert lines[:3] == ["result [3, 5, 7]", "during True 1 False True", "after True 0 True False"]


def test_counting_in_process(fixture_lib_path, tier):
    """The count as the library handle shows it: calls running now, 0 between calls, whatever
    the call's outcome."""
    with fastffi.dlopen(fixture_lib_path) as lib:
        h = lib._handle
        seen = []
        cb = fastffi.callback("int (*)(int)", lambda x: seen.append(h.inflight) or x)
        fn = lib.function("int fp_call_hook(int (*hook)(int), int x)", tier=tier)
        assert h.inflight == 0
        assert fn(cb.address, 5) == 6 and seen == [1]
        # Nested: a callback calling a function of the same library counts twice.
        inner = fastffi.callback("int (*)(int)", lambda x: seen.append(h.inflight) or x)
        outer = fastffi.callback("int (*)(int)", lambda x: fn(inner.address, x) * 10)
        assert fn(outer.address, 2) == 31 and seen == [1, 2]
        assert h.inflight == 0
        # A call refused before it is made (a conversion error) is never counted.
        with pytest.raises(OverflowError):
            fn(cb.address, 2**31)
        assert h.inflight == 0
        # An exception raised by the callback (reported, C gets error=0) is not a leak either.
        bad = fastffi.callback("int (*)(int)", lambda x: 1 / 0, onerror=lambda *exc: -1)
        assert fn(bad.address, 3) == 0
        assert h.inflight == 0 and not h.unloaded
    assert h.closed and h.unloaded and h.inflight == 0


def test_raw_address_functions_are_counted_apart(hook_lib_path):
    """A Function made from a raw address has no library: its calls count on a counter that never
    reaches 0, not on the library the address came from (whose unload it does not hold up: a raw
    address must stay valid by the caller's own means, as documented)."""
    lib = fastffi.dlopen(hook_lib_path)
    h = lib._handle
    seen = []
    cb = fastffi.callback("int (*)(int)", lambda x: seen.append(h.inflight) or x)
    raw = fastffi.function(lib.symbol("fp_call_hook"), "int fp_call_hook(int (*hook)(int), int x)")
    assert raw(cb.address, 7) == 8 and seen == [0]
    counted = lib.function("int fp_call_hook(int (*hook)(int), int x)")
    assert counted(cb.address, 7) == 8 and seen == [0, 1]
    lib.close()
    assert h.unloaded


def test_close_without_calls_unloads_at_once(hook_lib_path):
    lib = fastffi.dlopen(hook_lib_path)
    assert lib._handle.inflight == 0 and not lib._handle.unloaded
    lib.close()
    assert lib._handle.unloaded and lib._handle.inflight == 0
    lib.close()   # idempotent: the count never goes below 0
    assert lib._handle.inflight == 0
    with raises_exact(fastffi.LibraryError, f"cannot load library {hook_lib_path!r}: unknown error"):
        fastffi.dlopen(hook_lib_path, mode=fastffi.RTLD_NOW | fastffi.RTLD_NOLOAD)   # not mapped any more
