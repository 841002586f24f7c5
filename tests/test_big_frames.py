"""Large by-value signatures: a frame the plan tier cannot hold is refused in
Python with a reason (so ``auto`` falls to libffi), and a stack-argument area
larger than the calling thread's free stack raises FFIError instead of
running into the guard page -- on every tier, map() included."""
from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import textwrap
import threading

import pytest

import fastffi
from fastffi import _core
from conftest import struct_tier

B60 = fastffi.struct("B60", [("first", "i64"), ("fill", "i64[7498]"), ("last", "i64")])
B600 = fastffi.struct("B600", [("first", "i64"), ("fill", "i64[74998]"), ("last", "i64")])
AAPCS64 = _core.PLAN_ABI == "aapcs64"   # structs over 16 bytes go by reference to a copy there


def refused_by_libffi_on_aarch64(lib, name, types, tier):
    """True (after checking the refusal) where libffi on AArch64 must not take ``name``: its
    60 kB structs go by reference, and ten of them put addresses on the stack (tiers/libffi.py,
    _aapcs64_reference_on_stack_crash)."""
    if not (AAPCS64 and tier == "libffi" and len(types) > 8):
        return False
    with pytest.raises(fastffi.SignatureError) as e:
        lib.function(name, "i64", types, tier="libffi")
    assert str(e.value) == (f"{name}: tier 'libffi' refused: argument 1: libffi {_core.LIBFFI_VERSION} on AArch64 "
                            "crashes passing a struct of 4096 bytes or more by reference when arguments also go on the stack")
    return True


def big60k_args(n):
    args, expected = [], 0
    for k in range(n):
        b = B60()
        b.first, b.last, b.fill[k] = 3 * k + 1, -1000 * k, 7 + k
        args.append(b)
        expected += (k + 1) * (b.first + b.last + b.fill[k])
    return args, expected


def in_small_thread(fn, *args, stack=512 * 1024):
    """fn(*args) on a thread with a `stack`-byte stack: ("ok", result) or ("raised", exception)."""
    outcome = []

    def run():
        try:
            outcome.append(("ok", fn(*args)))
        except BaseException as e:   # reported to the test
            outcome.append(("raised", e))

    old = threading.stack_size(stack)
    try:
        t = threading.Thread(target=run)
        t.start()
    finally:
        threading.stack_size(old)
    t.join()
    return outcome[0]


def test_a_frame_over_the_plan_cap_falls_to_libffi_with_a_reason(lib):
    if refused_by_libffi_on_aarch64(lib, "big60k_sum20", [B60] * 20, "libffi"):
        return   # and the plan tier refuses the frame: no tier takes it there
    fn = lib.function("big60k_sum20", "i64", [B60] * 20)
    assert fn.tier == "libffi"
    frame = 1200208 if not AAPCS64 else None
    explained = fn.explain().splitlines()
    plan_line = next(line for line in explained if line.startswith("  plan refused: "))
    if frame is not None:
        assert plan_line == f"  plan refused: a frame of {frame} bytes (the plan tier takes at most 1048576)"
    args, expected = big60k_args(20)
    assert fn(*args) == expected
    with pytest.raises(fastffi.SignatureError) as e:
        lib.function("big60k_sum20", "i64", [B60] * 20, tier="plan")
    assert str(e.value) == "big60k_sum20: tier 'plan' refused: " + plan_line.removeprefix("  plan refused: ")


def test_a_big_frame_the_plan_tier_takes_runs_from_the_heap(lib, tier):
    if refused_by_libffi_on_aarch64(lib, "big60k_sum10", [B60] * 10, struct_tier(tier)):
        return
    fn = lib.function("big60k_sum10", "i64", [B60] * 10, tier=struct_tier(tier))
    args, expected = big60k_args(10)
    assert fn(*args) == expected
    assert fn(*args) == expected      # the heap frame image is freed and taken again


@pytest.mark.parametrize("name, types, stack_bytes", [
    ("big600k_ends", [B600, "i64"], 600016),
    ("big60k_sum10", [B60] * 10, 600000),
])
def test_stack_arguments_over_a_small_threads_stack_raise(lib, tier, name, types, stack_bytes):
    t = struct_tier(tier)
    if refused_by_libffi_on_aarch64(lib, name, types, t):
        return
    try:
        fn = lib.function(name, "i64", types, tier=t)
    except fastffi.SignatureError:
        assert t == "plan" and name == "big600k_ends"   # over the plan tier's 64 KiB per struct
        return
    if name == "big600k_ends":
        s = B600()
        s.first, s.last, s.fill[5] = 1, 2, 3
        args, expected = (s, 5), 6
    else:
        args, expected = big60k_args(10)
    assert fn(*args) == expected                        # the main thread's stack takes it
    if AAPCS64 and fn.tier == "plan":
        # By reference to copies in the (heap) frame image: nothing big on the stack.
        assert in_small_thread(fn, *args) == ("ok", expected)
        return
    kind, e = in_small_thread(fn, *args)
    assert kind == "raised" and type(e) is fastffi.FFIError
    if AAPCS64:   # libffi's by-reference copies and the stack area: rounded differently
        assert re.fullmatch(rf"{name}\(\): \d+ bytes of stack arguments exceed the thread's free stack", str(e))
    else:
        assert str(e) == f"{name}(): {stack_bytes} bytes of stack arguments exceed the thread's free stack"


def test_an_area_that_fits_a_small_thread_runs_there(lib, tier):
    fn = lib.function("big60k_sum2", "i64", [B60] * 2, tier=struct_tier(tier))
    args, expected = big60k_args(2)
    assert in_small_thread(fn, *args) == ("ok", expected)


@pytest.mark.no_sanitizer  # the instrumented fixture's own frame (ASan redzones around 300 kB of copies) outgrows the thread
def test_the_plan_frame_image_is_not_on_the_stack(fixture_lib_path):
    # 300 kB of stack arguments on a 512 KiB thread: the routine's copy fits,
    # a second copy (a frame image on the stack) would run into the guard
    # page.  In a subprocess: a regression is a crash.
    code = textwrap.dedent("""
        import sys, threading, fastffi
        sys.path.insert(0, sys.argv[2])
        from test_big_frames import B60, big60k_args, in_small_thread
        lib = fastffi.dlopen(sys.argv[1])
        fn = lib.function("big60k_sum5", "i64", [B60] * 5, tier="plan")
        args, expected = big60k_args(5)
        print(in_small_thread(fn, *args) == ("ok", expected))
        """)
    done = subprocess.run([sys.executable, "-c", code, fixture_lib_path, str(pathlib.Path(__file__).parent)],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "True\n"), done.stderr


def test_map_checks_the_stack_of_the_thread_it_runs_on(lib, tier):
    if refused_by_libffi_on_aarch64(lib, "big60k_sum10", [B60] * 10, struct_tier(tier)):
        return
    fn = lib.function("big60k_sum10", "i64", [B60] * 10, tier=struct_tier(tier))
    args, expected = big60k_args(10)
    columns = [fastffi.array(B60, 3) for _ in range(10)]
    for col, a in zip(columns, args):
        for r in range(3):
            col[r] = a
    out = fastffi.array("i64", 3)
    fn.map(*columns, out=out)
    assert list(out) == [expected] * 3
    kind, e = in_small_thread(lambda: fn.map(*columns, out=out))
    if AAPCS64 and fn.tier == "plan":
        # No big stack area on AAPCS64's plan tier: the copies live in the frame image.
        assert kind == "ok" and list(out) == [expected] * 3
        return
    assert kind == "raised" and type(e) is fastffi.FFIError
    assert str(e).endswith(" bytes of stack arguments exceed the thread's free stack")


def test_small_signatures_pay_no_stack_check(lib):
    # Decided at creation: scalar-only and small struct signatures carry 0.
    from fastffi.tiers.selection import _stack_check
    add = lib.function("int64_t count_call(int64_t)")
    sig = fastffi.cdecl.spelling.parse_declaration("int64_t count_call(int64_t)")
    assert add(1) == 2
    assert _stack_check(sig, "plan") == 0 and _stack_check(sig, "libffi") == 0


def test_libffi_on_aarch64_refuses_references_beside_stack_arguments(monkeypatch):
    # The rule itself, on any host: AAPCS64's classification read as it would be on AArch64.
    from fastffi.model.signature import Signature
    from fastffi.model.scalars import scalar
    from fastffi.tiers import libffi as tier_libffi
    monkeypatch.setattr(_core, "PLAN_ABI", "aapcs64")
    i64 = scalar("i64")
    crash = tier_libffi._aapcs64_reference_on_stack_crash
    assert crash(Signature("f", i64, (B60,) * 5)) is None                       # addresses in x0-x4
    assert crash(Signature("f", i64, (B60,) + (i64,) * 7)) is None               # nothing on the stack
    assert crash(Signature("f", i64, (i64,) * 9)) is None                        # no reference
    assert crash(Signature("f", i64, (B60,) + (i64,) * 8)) == (
        f"argument 1: libffi {_core.LIBFFI_VERSION} on AArch64 crashes passing a struct of 4096 bytes or more by "
        "reference when arguments also go on the stack")
    small = fastffi.struct("Small24", [("a", "i64"), ("b", "i64"), ("c", "i64")])
    assert crash(Signature("f", i64, (small,) * 10)) is None                     # called right: the differential
    assert crash(Signature("f", i64, (B60,) * 10)).startswith("argument 1: ")
