"""The `plan` callback mechanism: the static trampoline pool (callbacks/pool_<abi>.S, pool.c,
tiers/callback_pool.py).

C reaches these callbacks two ways here: the fixture's compiled callers (tests/fixture/
callbacks_abi.c), and fastffi Functions made at the callback's own address on every call tier
(each tier's call is a real ABI call: the plan tier's assembly, the JIT's code, libffi's)."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import pytest

import fastffi
from conftest import raises_exact
from fastffi.tiers import callback_pool

TIERS = fastffi.available_tiers()
EMULATED = os.environ.get("FASTFFI_EMULATOR") == "qemu-user"
ARM64 = fastffi._core.PLAN_ABI == "aapcs64"

I32F64 = fastffi.struct("s_i32_f64", [("i", "i32"), ("d", "f64")])
I64X3 = fastffi.struct("s_i64x3", [("a", "i64"), ("b", "i64"), ("c", "i64")])
P2 = fastffi.struct("point_f64x2", [("x", "f64"), ("y", "f64")])
U8X3 = fastffi.struct("s_u8x3", [("a", "u8"), ("b", "u8"), ("c", "u8")])
F32X3 = fastffi.struct("s_f32x3", [("a", "f32"), ("b", "f32"), ("c", "f32")])

F32_MAX = 3.4028234663852886e38
F32_TRUE_MIN = 1.401298464324817e-45
LIMITS = [
    ("bool", [False, True]),
    ("i8", [-128, 127, -1]),
    ("u8", [0, 255]),
    ("i16", [-32768, 32767]),
    ("u16", [0, 65535]),
    ("i32", [-2**31, 2**31 - 1]),
    ("u32", [0, 2**32 - 1]),
    ("i64", [-2**63, 2**63 - 1]),
    ("u64", [0, 2**64 - 1]),
    ("f32", [F32_MAX, -F32_MAX, F32_TRUE_MIN, -0.0, math.inf, -math.inf]),
    ("f64", [1.7976931348623157e308, 5e-324, -0.0, -math.inf]),
    ("pointer", [0, 2**64 - 1, 0x1000]),
]


def plan_callback(sig, func, **kw):
    cb = fastffi.callback(sig, func, **{"tier": "plan", **kw})
    assert cb.tier == "plan", cb.explain()
    return cb


def same(a, b):
    """Equal values of the same type, -0.0 told from 0.0 and NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float):
        return math.copysign(1, a) == math.copysign(1, b) and (a == b or math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("kind,values", LIMITS, ids=[k for k, _ in LIMITS])
def test_every_scalar_at_its_limits_as_argument_and_result(kind, values, tier):
    seen = []
    cb = plan_callback((kind, [kind]), lambda x: seen.append(x) or x)
    call = fastffi.function(cb.address, kind, [kind], tier=tier)
    for v in values:
        got = call(v)
        assert same(seen[-1], v), (kind, v, seen[-1])
        assert same(got, v), (kind, v, got)
    assert len(seen) == len(values)


@pytest.mark.parametrize("tier", TIERS)
def test_nan_f32_and_f64_cross_both_ways(tier):
    for kind in ("f32", "f64"):
        cb = plan_callback((kind, [kind, kind]), lambda a, b: a + b)
        got = fastffi.function(cb.address, kind, [kind, kind], tier=tier)(math.nan, 1.0)
        assert math.isnan(got)


def test_narrow_arguments_with_garbage_upper_bits(lib):
    seen = []
    cb = plan_callback(("u64", ["u8", "i8", "u16", "i16", "u32", "i32", "bool", "i8", "u16", "f32"]),
                       lambda *a: seen.append(a) or 2**64 - 1)
    assert lib.function("cbabi_call_dirty", "u64", ["pointer"])(cb.address) == 2**64 - 1
    assert seen == [(255, -128, 65535, -32768, 4294967295, -2147483648, True, 127, 0x1234, 1.5)]


def test_more_integer_and_float_arguments_than_registers_from_c(lib):
    seen = []
    cb = plan_callback(("f64", ["i64"] * 8 + ["f64"] * 10 + ["i32", "f32"]), lambda *a: seen.append(a) or -0.5)
    assert lib.function("cbabi_call_many", "f64", ["pointer"])(cb.address) == -0.5
    assert seen == [(-1, 2, -3, 4, -5, 6, -2**63, 2**63 - 1,
                     0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, -8.25, 1e300, -7, 0.125)]


@pytest.mark.parametrize("tier", [t for t in TIERS if t != "jit"])   # the JIT tier takes 8 arguments at most
def test_stack_arguments_of_every_kind(tier):
    kinds = [k for k, _ in LIMITS]
    argtypes = kinds * 3          # 36 arguments: registers run out of both classes
    args = [values[i % len(values)] for i, (_, values) in enumerate(LIMITS * 3)]
    seen = []
    cb = plan_callback(("i64", argtypes), lambda *a: seen.append(a) or -7)
    assert fastffi.function(cb.address, "i64", argtypes, tier=tier)(*args) == -7
    assert len(seen[0]) == len(args)
    for got, want in zip(seen[0], args):
        assert same(got, want)


def test_structs_by_value_as_arguments(lib):
    seen = []

    def func(a, b, c, d, e):
        seen.append(((a.i, a.d), (b.a, b.b, b.c), (c.x, c.y), (d.a, d.b, d.c), (e.a, e.b, e.c)))
        return 9.75

    cb = plan_callback(("f64", [I32F64, I64X3, P2, U8X3, F32X3]), func)
    assert lib.function("cbabi_call_structs", "f64", ["pointer"])(cb.address) == 9.75
    assert seen == [((-42, 2.5), (-2**63, -1, 2**63 - 1), (0.25, -1e-300), (1, 254, 255), (1.5, -2.5, 3.25))]


def test_struct_results_in_registers_and_in_memory(lib):
    big = plan_callback((I64X3, ["i64"]), lambda x: I64X3(a=x, b=-x, c=2**63 - 1))
    r = lib.function("cbabi_ret_i64x3", I64X3, ["pointer", "i64"])(big.address, 5)
    assert (r.a, r.b, r.c) == (5, -5, 2**63 - 1)

    mixed = plan_callback((I32F64, ["i32"]), lambda x: I32F64(i=x, d=x / 4))
    r = lib.function("cbabi_ret_i32_f64", I32F64, ["pointer", "i32"])(mixed.address, -7)
    assert (r.i, r.d) == (-7, -1.75)

    floats = plan_callback((F32X3, ["f32"]), lambda x: F32X3(a=x, b=-x, c=0.5))
    r = lib.function("cbabi_ret_f32x3", F32X3, ["pointer", "f32"])(floats.address, 1.25)
    assert (r.a, r.b, r.c) == (1.25, -1.25, 0.5)

    odd = plan_callback((U8X3, []), lambda: U8X3(a=1, b=2, c=255))
    r = lib.function("cbabi_ret_u8x3", U8X3, ["pointer"])(odd.address)
    assert (r.a, r.b, r.c) == (1, 2, 255)


def test_struct_result_in_memory_beside_stack_arguments(lib):
    seen = []
    cb = plan_callback((I64X3, ["i64"] * 7), lambda *a: seen.append(a) or I64X3(a=a[0], b=a[5], c=a[6]))
    assert lib.function("cbabi_ret_big_with_stack", "i64", ["pointer"])(cb.address) == 167
    assert seen == [(1, 2, 3, 4, 5, 6, 7)]


@pytest.mark.parametrize("tier", [t for t in TIERS if t != "jit"])   # the JIT tier takes scalars only
def test_structs_both_ways_through_every_call_tier(tier):
    seen = []
    sig = (I32F64, [I64X3, "i32", P2, U8X3, F32X3, I32F64] + ["f64"] * 8 + [I32F64])
    cb = plan_callback(sig, lambda *a: seen.append(a) or I32F64(i=a[1], d=a[2].y))
    call = fastffi.function(cb.address, *sig, tier=tier)
    r = call(I64X3(a=1, b=2, c=3), -9, P2(x=0.5, y=-2.0), U8X3(a=7, b=8, c=9), F32X3(a=1.0, b=2.0, c=3.0),
             I32F64(i=4, d=4.5), *[float(i) for i in range(8)], I32F64(i=-5, d=1e10))
    assert (r.i, r.d) == (-9, -2.0)
    a = seen[0]
    assert ((a[0].a, a[0].b, a[0].c), a[1], (a[2].x, a[2].y), (a[3].a, a[3].b, a[3].c),
            (a[4].a, a[4].b, a[4].c), (a[5].i, a[5].d), a[6:14], (a[14].i, a[14].d)) == \
        ((1, 2, 3), -9, (0.5, -2.0), (7, 8, 9), (1.0, 2.0, 3.0), (4, 4.5), tuple(float(i) for i in range(8)),
         (-5, 1e10))


def test_many_invocations_from_a_c_loop(lib):
    cb = plan_callback(("i64", ["i64"]), lambda x: 3 * x)
    assert lib.function("cbabi_sum", "i64", ["pointer", "i64"])(cb.address, 100_000) == 3 * 99_999 * 100_000 // 2


def test_a_closed_callback_reports_and_returns_its_error(lib, monkeypatch):
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    cb = plan_callback(("i64", ["i64"]), lambda x: x, error=-3)
    address = cb.address
    cb.close()
    assert lib.function("cbabi_sum", "i64", ["pointer", "i64"])(address, 2) == -6
    assert [(type(u.exc_value), str(u.exc_value)) for u in unraisable] == \
        [(fastffi.CallbackClosedError, "callback 'callback' was called after it was closed; C got its error value")] * 2


def test_ten_thousand_live_callbacks(lib):
    call = lib.function("cbabi_sum", "i64", ["pointer", "i64"])
    before = callback_pool.available()
    cbs = [plan_callback(("i64", ["i64"]), lambda x, k=k: x + k) for k in range(10_000)]
    assert callback_pool.available() == before - 10_000
    assert len({cb.address for cb in cbs}) == 10_000
    assert all(call(cb.address, 2) == 1 + 2 * k for k, cb in enumerate(cbs))
    for cb in cbs:
        cb.close()
    # At most the last 4,096 retirements stay quarantined.
    assert callback_pool.available() >= before - 4096


def test_explain_names_the_slot_and_the_moves():
    cb = plan_callback(("f64", ["i32", "f64"]), lambda a, b: a + b)
    abi = fastffi._core.PLAN_ABI
    regs = ("x0", "v0", "v0") if ARM64 else ("rdi", "xmm0", "xmm0")
    lines = cb.explain().splitlines()
    # Asked for exactly (the jit mechanism would take it): no refusal line.
    assert lines[:2] == ["f64 callback(i32, f64)", "tier: plan"]
    assert lines[2:] == [
        f"  static pool slot ({abi}): no executable memory made; {callback_pool.available()} of 16384 slots free",
        "  callee side of the plan, 2 moves (the caller's, read in reverse):",
        f"    arg 1 i32 sext32 -> {regs[0]}",
        f"    arg 2 f64 -> {regs[1]}",
        f"    ret f64 <- {regs[2]}",
    ]


def test_an_exact_plan_request_is_refused_for_a_variadic_signature():
    with raises_exact(fastffi.SignatureError, "callback 'callback': a variadic callback cannot read its "
                      "arguments (C has no portable va_list from a callee's side)"):
        fastffi.callback(("i32", ["i32", ...]), lambda *a: 0, tier="plan")


# ---- in a fresh process: exact slot accounting, never-used slots, exhaustion ------------------

def run_child(code, *, prelude="", env=None, timeout=300):
    proc = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env={**{k: v for k, v in os.environ.items() if k != "FASTFFI_TIER"},
                                                **(env or {})})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_slots_never_handed_out_return_zeros_and_released_slots_come_back(fixture_lib_path):
    out = run_child(f"""
        import os
        os.environ['FASTFFI_TIER'] = 'plan'   # below jit: auto starts at the pool
        import sys, fastffi
        from fastffi.tiers import callback_pool as pool
        lib = fastffi.dlopen({fixture_lib_path!r})
        call = lib.function("cbabi_sum", "i64", ["pointer", "i64"])
        first = fastffi.callback(("i64", ["i64"]), lambda x: 1, error=-1)
        base = first.address
        print(pool.available(), base % 16)
        # The last slot and the one after the first: never handed out.
        print(call(base + 16 * 16383, 3), call(base + 16, 3))
        seen = []
        sys.unraisablehook = lambda u: seen.append(type(u.exc_value).__name__)
        first.close()
        print(call(base, 1), seen)           # quarantined: reports, returns error
        for _ in range(4096):
            fastffi.callback(("i64", ["i64"]), lambda x: 1).close()
        print(pool.available())
        print(call(base, 1), seen)           # released: no target, zeros, nothing reported
        live = [fastffi.callback(("i64", ["i64"]), lambda x: 2) for _ in range(10_000)]
        print(pool.available())
        for cb in live:
            cb.close()
        print(pool.available())
    """)
    assert out == ["16383 0", "0 0", "-1 ['CallbackClosedError']",
                   # 4,097 retired: the first left the quarantine, 4,096 stay in it
                   f"{16384 - 4096}", "0 ['CallbackClosedError']",
                   f"{16384 - 4096 - 10_000}", f"{16384 - 4096}"]


def test_an_exhausted_pool_falls_back_to_libffi_and_explain_says_so():
    reason = "the static pool's 16384 slots are all in use (live or quarantined); libffi closures take over"
    out = run_child("""
        import os
        os.environ['FASTFFI_TIER'] = 'plan'   # below jit: auto starts at the pool
        import fastffi
        from fastffi.tiers import callback_pool as pool
        live = [fastffi.callback(("i64", ["i64"]), lambda x: x) for _ in range(16384)]
        print(pool.available(), {cb.tier for cb in live})
        extra = fastffi.callback(("i64", ["i64"]), lambda x: x + 1)
        print(extra.tier)
        print(extra.explain().splitlines()[3])
        print(fastffi.function(extra.address, "i64", ["i64"])(41))
        try:
            fastffi.callback(("i64", ["i64"]), lambda x: x, tier="plan")
        except fastffi.FFIError as e:
            print(type(e).__name__, e)
    """)
    assert out == ["0 {'plan'}", "libffi", f"  plan refused: {reason}", "42",
                   f"FFIError callback 'callback': tier 'plan' refused: {reason}"]


def test_the_pool_serves_a_signature_again_once_slots_come_back():
    # The libffi choice an exhausted pool forced is not remembered for the signature (the
    # per-signature spec cache, tiers/callback.py): once slots are back, the pool serves it.
    out = run_child("""
        import os
        os.environ['FASTFFI_TIER'] = 'plan'   # below jit: auto starts at the pool
        import fastffi
        from fastffi.tiers import callback_pool as pool
        live = [fastffi.callback(("i64", ["i64"]), lambda x: x) for _ in range(16384)]
        extra = [fastffi.callback(("i64", ["i64"]), lambda x: x) for _ in range(2)]
        print(pool.available(), [cb.tier for cb in extra])
        for cb in live + extra:
            cb.close()
        print(pool.available())               # 4,096 of the retired slots stay quarantined
        again = fastffi.callback(("i64", ["i64"]), lambda x: x + 1)
        print(again.tier, fastffi.function(again.address, "i64", ["i64"])(41))
    """)
    assert out == ["0 ['libffi', 'libffi']", f"{16384 - 4096 + 2}", "plan 42"]


# PR_SET_MDWE (65) with PR_MDWE_REFUSE_EXEC_GAIN (1): from here on no mapping of this process
# may become executable after being writable, nor be mapped writable and executable (Linux 6.3+).
MDWE = textwrap.dedent("""
    import ctypes, sys
    _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.prctl(65, 1, 0, 0, 0) != 0:
        sys.exit(f"prctl(PR_SET_MDWE) failed: errno {ctypes.get_errno()}")
    if _libc.prctl(66, 0, 0, 0, 0) != 1:
        sys.exit("PR_GET_MDWE does not report PR_MDWE_REFUSE_EXEC_GAIN")
""")


def _policy_prelude(policy):
    from test_jit import SECCOMP    # the JIT tests' filter: PROT_EXEC refused on anonymous memory

    return MDWE if policy == "mdwe" else SECCOMP


@pytest.mark.skipif(EMULATED, reason="qemu-user refuses its guest both PR_SET_MDWE and PR_SET_SECCOMP (EINVAL)")
@pytest.mark.skipif(os.environ.get("FASTFFI_POOL_UNDER_POLICY") == "1", reason="already the run under a policy")
@pytest.mark.parametrize("policy", ["mdwe", pytest.param("seccomp", marks=pytest.mark.skipif(
    fastffi._core.PLAN_ABI != "sysv-x86_64", reason="the seccomp filter is written for x86-64"))])
def test_the_whole_pool_suite_where_executable_memory_is_refused(policy):
    out = run_child(f"""
        import pytest, sys, mmap
        # The policy is on: anonymous writable+executable memory is refused.
        try:
            mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
            print("rwx mapping allowed")
        except PermissionError:
            print("rwx mapping refused")
        sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-x", {__file__!r}]))
    """, prelude=_policy_prelude(policy), env={"FASTFFI_POOL_UNDER_POLICY": "1"}, timeout=600)
    assert out[0] == "rwx mapping refused"
    summary = out[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, out



def test_an_unwinder_walks_out_of_a_callback_to_its_c_caller(lib):
    # backtrace() unwinds by .eh_frame: a relay without CFI would end the walk inside it.  The
    # calls around it go through the plan tier, whose routines carry CFI too (JIT code registers
    # no unwind tables).
    finds = lib.function("cbabi_backtrace_finds", "i64", ["string"], tier="plan")
    probe = lib.function("cbabi_unwind_probe", "i64", ["pointer"], tier="plan")
    cb = plan_callback(("i64", []), lambda: finds("cbabi_unwind_probe"))
    assert probe(cb.address) - 1 > 0
    assert finds("cbabi_unwind_probe") == -1     # not on the stack outside the callback


def test_a_struct_result_in_memory_returns_its_address(lib):
    # psABI 3.2.3: the callee returns the hidden result address in %rax (an assembly caller reads it).
    cb = plan_callback((I64X3, ["i64"]), lambda x: I64X3(a=1, b=2, c=3))
    out = I64X3(a=0, b=0, c=0)
    address = fastffi.address_of(out)
    assert lib.function("cbabi_sret_rax", "u64", ["pointer", "pointer"])(cb.address, address) == address
    assert (out.a, out.b, out.c) == (1, 2, 3)


def slot_index(address):
    """The index slot ``address`` puts in its scratch register, checking the slot's shape."""
    code = fastffi.to_bytes(address, 16)
    if ARM64:
        words = [int.from_bytes(code[i:i + 4], "little") for i in range(0, 16, 4)]
        assert words[0] == 0xD503245F                            # bti c
        assert words[1] & 0xFFE0001F == 0xD2800011                # movz x17, #index
        assert words[2] >> 26 == 0b000101                         # b relay
        return (words[1] >> 5) & 0xFFFF
    assert code[:4] == bytes.fromhex("f30f1efa")                  # endbr64
    assert code[4:6] == bytes.fromhex("41bb")                     # movl $index, %r11d
    assert code[10] in (0xE9, 0xEB)                               # jmp relay
    return int.from_bytes(code[6:10], "little")


def test_a_slot_is_a_landing_pad_its_index_and_a_jump():
    cb = plan_callback(("i64", ["i64"]), lambda x: x)
    index = slot_index(cb.address)
    assert 0 <= index < callback_pool.SLOTS
    # Slots are 16 bytes from the pool's start, in index order: the first and the last.
    base = cb.address - 16 * index
    assert (slot_index(base), slot_index(base + 16 * (callback_pool.SLOTS - 1))) == (0, callback_pool.SLOTS - 1)
