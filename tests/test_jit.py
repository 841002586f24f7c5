"""The JIT tier's machinery: eligibility, W^X executable memory, code sharing,
the fault path where executable memory is refused, and the x86-64 encoders
(checked by disassembling what they emit).  Values through the JIT are tested
with every other tier by the call, struct, error and differential suites."""
from __future__ import annotations

import gc
import os
import platform
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

import fastffi
from conftest import start_together
from fastffi import _core
from fastffi.cdecl.spelling import make_signature
from fastffi.tiers import jit as tier_jit
from fastffi.tiers.jit import layouts, x86_64

X86_64 = platform.machine() in ("x86_64", "AMD64")
EMULATED = os.environ.get("FASTFFI_EMULATOR") == "qemu-user"
JIT_HERE = tier_jit.platform_refusal() is None
LAYOUT = _core.JIT_RUNTIME["object_layout"]
# Where the JIT has an emitter but no description of this build's object layout (CPython 3.12+
# until it learns them), its tests check the documented refusal instead of the code.
LAYOUT_REFUSAL = None if LAYOUT in layouts.LAYOUTS or tier_jit.emitter() is None else (
    "the inline fast paths are written for CPython 3.10-3.15 release builds; "
    f"this build's object layout is {LAYOUT!r}")
needs_jit = pytest.mark.skipif(not JIT_HERE and LAYOUT_REFUSAL is None, reason="needs the JIT here")


def refused_for_layout() -> bool:
    """True where the JIT refuses this build's object layout, once that refusal is checked: the
    plan tier runs, explain() gives the reason and an exact request for the JIT raises it."""
    if LAYOUT_REFUSAL is None:
        return False
    with fastffi.dlopen(None) as libc:
        fn = libc.function("abs", "i32", ["i32"])
        assert fn.tier == "plan" and fn(-7) == 7
        assert f"  jit refused: {LAYOUT_REFUSAL}" in fn.explain().splitlines()
        with pytest.raises(fastffi.FFIError) as e:
            libc.function("abs", "i32", ["i32"], tier="jit")
    assert str(e.value) == f"abs: tier 'jit' refused: {LAYOUT_REFUSAL}"
    return True


def refusal(restype, argtypes):
    return tier_jit.signature_refusal(make_signature("f", restype, argtypes))


# ---- eligibility ---------------------------------------------------------------------------------

Pair = fastffi.struct("JitPair", [("a", "i32"), ("b", "i32")])


@pytest.mark.parametrize("restype, argtypes, reason", [
    ("i32", ["i32"] * 9, "9 arguments (the JIT takes at most 8)"),
    ("i32", [Pair], "argument 1 is a struct by value (the JIT takes scalars only)"),
    (Pair, ["i32"], "the return is a struct by value (the JIT takes scalars only)"),
    ("f64", ["f64"] * 8, None),
    ("i32", ["i32"] * 8, "8 integer-class arguments (this emitter passes at most {gp} in registers)"),
    ("i32", ["pointer", "string", "bool", "u8", "i16", "u64", "f32", "f64"], None),
])
def test_eligibility(restype, argtypes, reason):
    if tier_jit.emitter() is None:
        pytest.fail("these tests run where a JIT emitter exists (x86-64 and AArch64 Linux)")
    gp = tier_jit.emitter().LIMITS[0]
    expected = reason.format(gp=gp) if reason else None
    if reason and "integer-class" in reason and len(argtypes) <= gp:
        expected = None
    assert refusal(restype, argtypes) == expected


def test_argument_count_is_checked_before_the_per_argument_rules():
    # A long signature is refused for its length, before any per-argument rule
    # (or register count) is looked at.
    assert refusal("i32", [Pair] * 40) == "40 arguments (the JIT takes at most 8)"


def test_ineligible_signatures_fall_back_to_the_plan_tier(lib):
    fn = lib.function("sum_12_i64", "i64", ["i64"] * 12)
    assert fn.tier == "plan"
    reason = LAYOUT_REFUSAL or "12 arguments (the JIT takes at most 8)"   # the layout is checked first
    assert f"  jit refused: {reason}" in fn.explain().splitlines()


def test_object_layout_refusal_is_explained(lib, monkeypatch):
    """The inline fast paths are keyed to the object layout they were written
    for; any other layout falls back to the plan tier, and explain() says so."""
    monkeypatch.setattr(tier_jit, "SUPPORTED_LAYOUTS", frozenset({"cpython-3.99-release"}))
    fn = lib.function("add_i32", "i32", ["i32", "i32"])
    assert fn.tier == "plan"
    layout = _core.JIT_RUNTIME["object_layout"]
    assert (f"  jit refused: the inline fast paths are written for CPython 3.10-3.15 release builds; "
            f"this build's object layout is {layout!r}") in fn.explain().splitlines()
    assert fn(2, 3) == 5


def test_layout_of_this_build_is_named():
    """Release builds of 3.10 and 3.11 have a layout each; 3.12 through 3.15 share one (their
    cpython/longintrepr.h agree); the JIT runs on every one of them."""
    version = sys.version_info[:2]
    special = hasattr(sys, "gettotalrefcount") or not sys._is_gil_enabled() if version >= (3, 13) else (
        hasattr(sys, "gettotalrefcount"))
    expected = ("cpython-special-build" if special else f"cpython-3.{version[1]}-release" if version < (3, 12)
                else "cpython-3.12-release" if version < (3, 16) else "cpython-other")
    assert _core.JIT_RUNTIME["object_layout"] == expected
    if expected != "cpython-other" and not special and tier_jit.emitter() is not None:
        assert tier_jit.layout_refusal() is None and LAYOUT_REFUSAL is None


@pytest.mark.skipif(tier_jit.emitter() is None, reason="no JIT emitter for this machine (x86-64 and AArch64 only)")
def test_jit_runs_on_every_supported_release_build(lib):
    """3.10 through 3.15 release builds: the JIT is a tier, and a plain function takes it."""
    if not (3, 10) <= sys.version_info[:2] <= (3, 15) or hasattr(sys, "gettotalrefcount"):
        assert tier_jit.layout_refusal() is not None   # a layout nobody has described yet
        return
    assert tier_jit.layout_refusal() is None
    if os.environ.get("FASTFFI_TEST_DENY_EXEC"):
        return
    assert "jit" in fastffi.available_tiers()
    fn = lib.function("add_i32", "i32", ["i32", "i32"])
    assert fn.tier == "jit" and fn(-(2**30) + 1, 2**30 - 1) == 0 and fn(2**30, -1) == 2**30 - 1


def test_int_tag_constants_come_from_the_headers():
    """3.12+: the lv_tag offset, sign mask and compact bound are exported from C (offsetof,
    _PyLong_SIGN_MASK, 2 << _PyLong_NON_SIZE_BITS) and agree with layouts.py; 3.10-3.11 have no
    tag, and the emitters take the ob_size scheme."""
    rt = _core.JIT_RUNTIME
    if sys.version_info >= (3, 12):
        assert (rt["long_tag"], rt["long_digit0"], rt["long_sign_mask"], rt["long_compact_below"]) == (16, 24, 3, 16)
    else:
        assert "long_tag" not in rt and (rt["ob_size"], rt["long_digit0"]) == (16, 24)


def test_layout_table_agrees_with_this_build():
    """The JIT runs on the layouts tiers/jit/layouts.py describes; where it describes this build, its
    offsets are the ones the C core measured with offsetof."""
    assert tier_jit.SUPPORTED_LAYOUTS == frozenset(layouts.LAYOUTS)
    if LAYOUT in layouts.LAYOUTS:
        assert {k: _core.JIT_RUNTIME[k] for k in layouts.LAYOUTS[LAYOUT]} == layouts.LAYOUTS[LAYOUT]
    else:
        assert tier_jit.layout_refusal() is not None


# ---- executable memory ---------------------------------------------------------------------------

def test_jit_supported_is_cached_and_public():
    assert fastffi.jit_supported() is fastffi.jit_supported()
    assert _core.jit_probe_ran()
    if LAYOUT_REFUSAL is None:
        assert fastffi.jit_supported() == JIT_HERE or tier_jit.emitter() is None
    else:   # the JIT is off for the layout, whatever the executable-memory probe answered
        assert tier_jit.platform_refusal() == LAYOUT_REFUSAL and "jit" not in fastffi.available_tiers()


def _maps():
    with open("/proc/self/maps") as f:
        return [line.split() for line in f]


@needs_jit
def test_code_pages_are_read_execute_and_nothing_is_writable_and_executable(fixture_lib_path):
    """In a fresh process: libffi's closure allocator (the libffi callback
    mechanism, which other tests use) may map writable+executable pages of
    its own; fastffi's JIT and its static callback pool never do."""
    if refused_for_layout():
        return
    code = textwrap.dedent("""
        import sys, fastffi
        from fastffi import _core
        from fastffi.tiers import callback as mechanisms
        lib = fastffi.dlopen(sys.argv[1])
        fn = lib.function("add_i32", "i32", ["i32", "i32"])
        assert fn.tier == "jit"
        cbs = [fastffi.callback("long f(long)", abs, tier=t) for t in ("plan", "jit") if t in
               mechanisms.available_mechanisms()]
        assert cbs
        region = fn._code_
        start = region.address
        maps = [line.split() for line in open("/proc/self/maps")]
        perms = [p for (rng, p, *_rest) in maps if int(rng.split("-")[0], 16) <= start < int(rng.split("-")[1], 16)]
        assert perms == ["r-xp"], perms
        assert region.mapped % _core.page_size() == 0 and 0 < region.used <= region.mapped
        assert not [m for m in maps if "w" in m[1] and "x" in m[1]], "no page may be writable and executable"
        print("ok")
        """)
    proc = subprocess.run([sys.executable, "-c", code, fixture_lib_path], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


@needs_jit
def test_code_is_shared_by_shape_and_unmapped_with_its_last_function(lib):
    if refused_for_layout():
        return
    f1 = lib.function("add_i32", "i32", ["i32", "i32"])
    f2 = lib.function("sub_i32", "i32", ["i32", "i32"])
    f3 = lib.function("add_f64", "f64", ["f64", "f64"])
    assert f1._code_ is f2._code_
    assert f3._code_ is not f1._code_
    assert (f1(5, 3), f2(5, 3), f3(0.5, 0.25)) == (8, 2, 0.75)
    shape = tier_jit.shape_of(make_signature("x", "f64", ["f64", "f64"]), False)
    address = f3._code_.address
    del f3
    gc.collect()
    assert tier_jit._cached(shape) is None
    assert not [m for m in _maps() if int(m[0].split("-")[0], 16) == address]


class _RaisingCache(dict):
    """A code cache whose lookups and deletions raise, as a KeyboardInterrupt
    arriving inside them would."""

    def get(self, *args):
        raise KeyboardInterrupt

    def __delitem__(self, key):
        raise KeyboardInterrupt


def test_code_cache_runs_no_python_when_a_region_dies(lib, monkeypatch):
    """Issue 12 item 10: a weakref callback runs wherever its region happens to
    die (inside fn.map(), under Ctrl-C) and its exception is only printed
    ("Exception ignored in ... forget").  The cache's references have no
    callback: a region dying runs no Python code at all."""
    if refused_for_layout():
        return
    fn = lib.function("widen_u32", "u64", ["u32"])   # a shape no other test keeps alive
    assert fn.tier == "jit"
    assert all(hit[0].__callback__ is None for hit in tier_jit._code_cache.values())
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    monkeypatch.setattr(tier_jit, "_code_cache", _RaisingCache(tier_jit._code_cache))
    shape = tier_jit.shape_of(make_signature("widen_u32", "u64", ["u32"]), False)
    ref = dict.get(tier_jit._code_cache, shape)[0]
    del fn
    gc.collect()
    assert ref() is None and unraisable == []


def test_code_cache_drops_dead_entries_as_it_grows(lib):
    """Dead entries are swept when the cache has doubled since the last sweep:
    creating and dropping functions of ever new shapes keeps it bounded."""
    if refused_for_layout():
        return
    gc.collect()
    kinds = ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64"]
    for a in kinds:
        for b in kinds:
            for c in kinds[:4]:   # 400 shapes, each installed and dropped at once
                tier_jit.code_for(tier_jit.shape_of(make_signature("g", "void", [a, b, c]), False))
    assert len(tier_jit._code_cache) <= tier_jit._sweep_at < 400


def test_code_region_takes_only_recorded_emitter_output():
    """Issue 12 item 11: the code-region constructor is private and is no way to
    turn arbitrary bytes into executable memory: it installs only what the
    JIT's emitters produced (recorded as they produce it), each once."""
    assert not hasattr(_core, "CodeRegion")
    message = "_CodeRegion: only code emitted by fastffi's JIT can be installed"
    with pytest.raises(ValueError) as e:
        _core._CodeRegion((b"\xc3",), "ret")
    assert str(e.value) == message
    emitter = tier_jit.emitter()
    if emitter is None:
        return
    code = tier_jit._emitted(emitter.emit(tier_jit.shape_of(make_signature("h", "i64", ["i64"]), False),
                                          _core.JIT_RUNTIME))
    tampered = code[:-1] + bytes([code[-1] ^ 1])
    with pytest.raises(ValueError) as e:
        _core._CodeRegion((code, tampered), "h")
    assert str(e.value) == message
    if not JIT_HERE:
        return
    region = _core._CodeRegion((code,), "h")
    assert region.used == len(code) and region.mapped % _core.page_size() == 0 and region.offsets == (0,)
    with pytest.raises(ValueError) as e:   # the recording served one installation
        _core._CodeRegion((code,), "h")
    assert str(e.value) == message


AUDIT_CHILD = textwrap.dedent("""
    import sys
    events = []
    sys.addaudithook(lambda name, args: events.append(args) if name == "fastffi.jit" else None)
    import fastffi
    from fastffi.tiers import jit as tier_jit
    lib = fastffi.dlopen(sys.argv[1])
    fn = lib.function("add_f64", "f64", ["f64", "f64"])
    assert fn.tier == "jit" and events == [("add_f64", tier_jit.code_size(fn))], events
    lib.function("sub_f64", "f64", ["f64", "f64"])   # the same shape: no new code
    assert len(events) == 1, events
    from array import array
    assert list(fn.map(array("d", [1.0, 2.0]), array("d", [0.5, 0.25]))) == [1.5, 2.25]
    assert [e[0] for e in events] == ["add_f64", "add_f64.map"], events
    assert events[1][1] > 0
    print("ok")
""")


@needs_jit
def test_installing_code_raises_the_fastffi_jit_audit_event(fixture_lib_path):
    """PEP 578: every installation of generated code raises "fastffi.jit" with
    (what the code is for, bytes of code), before the code is mapped."""
    if refused_for_layout():
        return
    assert _run_child_code(AUDIT_CHILD, fixture_lib_path) == ["ok"]


def _run_child_code(code, *argv):
    env = {k: v for k, v in os.environ.items() if k != "FASTFFI_TIER"}
    proc = subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_call_specialisation_of_a_function(lib):
    """What CPython's specialising interpreter makes of ``fn(a, b)`` once warm
    (a Function is a class whose instances' tp_vectorcall is the entry): 3.11
    specialises the call to PRECALL_BUILTIN_CLASS, 3.12 and later to
    CALL_BUILTIN_CLASS -- both call tp_vectorcall straight away, the cheapest
    path a callable other than a Python function gets.  3.10 has no
    specialisation: CALL_FUNCTION calls through PyObject_Vectorcall."""
    import dis

    fn = lib.function("add_i32", "i32", ["i32", "i32"])

    def call(fn):
        return fn(1, 2)

    for _ in range(100):   # past the adaptive counters' warm-up
        call(fn)
    adaptive = {"adaptive": True} if sys.version_info >= (3, 11) else {}
    calls = [i.opname for i in dis.get_instructions(call, **adaptive) if "CALL" in i.opname]
    expected = (["CALL_FUNCTION"] if sys.version_info < (3, 11)
                else ["PRECALL_BUILTIN_CLASS", "CALL_ADAPTIVE"] if sys.version_info < (3, 12)
                else ["CALL_BUILTIN_CLASS"])
    assert calls == expected


def test_bytes_for_a_non_const_pointer_leave_the_inline_path():
    """bytes passed for a non-const pointer are refused (C may write through
    it), for a typed pointee size-checked: the JIT's inline bytes path is not
    emitted for such an argument (decided per signature), the helper raises
    exactly as the other tiers do; a const char * still takes bytes inline."""
    if refused_for_layout():
        return
    with fastffi.dlopen(None) as libc:
        memset = libc.function("void *memset(void *s, int c, size_t n)")
        strlen = libc.function("size_t strlen(const char *s)")
        assert memset.tier == strlen.tier == "jit"
        data = b"abcdef"
        with pytest.raises(TypeError) as e:
            memset(data, 0x41, 6)
        assert str(e.value) == ("memset() argument 1: bytes is read-only; pass a bytearray or declare the "
                                "parameter const")
        assert data == b"abcdef" and strlen(data) == 6
        buf = bytearray(b"xyz")
        memset(buf, 0x41, 2)
        assert buf == b"AAz"
    shapes = [tier_jit.shape_of(make_signature("f", "void", [t]), False) for t in ("pointer", "string")]
    assert [a.bytes_slow for s in shapes for a in s.args] == [False, False]


def _mapping_of(address):
    """(start, end, permissions) of the mapping holding ``address``, or None."""
    for rng, perms, *_rest in _maps():
        start, end = (int(x, 16) for x in rng.split("-"))
        if start <= address < end:
            return start, end, perms
    return None


@needs_jit
def test_definitions_share_one_mapping_unmapped_with_their_last_function(fixture_lib_path):
    """dlopen's definitions are emitted together, so their code shares pages;
    a function made later gets fresh pages (a sealed page is never written)."""
    if refused_for_layout():
        return
    definitions = {"widen_u16": ("u64", ["u16"]), "widen_i8": ("i64", ["i8"]), "bits_f32": ("u32", ["f32"])}
    gc.collect()
    shapes = [tier_jit.shape_of(make_signature(n, r, a), True) for n, (r, a) in definitions.items()]
    assert [tier_jit._cached(s) for s in shapes] == [None] * 3, "these shapes must be new to this process"
    lib = fastffi.dlopen(fixture_lib_path, definitions, release_gil=True, use_errno=True)
    fns = [lib[name] for name in definitions]
    region = fns[0]._code_
    assert [f.tier for f in fns] == ["jit"] * 3 and all(f._code_ is region for f in fns)
    assert (fns[0](65535), fns[1](-128), fns[2](1.0)) == (65535, -128, 0x3F800000)

    offsets = [f._entry_ - region.address for f in fns]
    sizes = [tier_jit.code_size(f) for f in fns]
    assert offsets[0] == 0 and all(o % 16 == 0 for o in offsets)
    assert region.offsets == tuple(offsets)   # the region's own layout is the one the functions enter
    assert [o + n <= nxt for o, n, nxt in zip(offsets, sizes, offsets[1:] + [region.used])] == [True] * 3
    assert region.used == offsets[2] + sizes[2] and region.mapped == _core.page_size()
    assert (f"jit ({tier_jit.emitter().NAME}): {sizes[2]} bytes of code at 0x{fns[2]._entry_:x} in a "
            f"{region.mapped}-byte read+execute mapping") in fns[2].explain()
    start, end, perms = _mapping_of(region.address)
    assert perms == "r-xp"

    later = lib.function("widen_u8", "u64", ["u8"], release_gil=True, use_errno=True)
    assert later.tier == "jit" and later._code_ is not region
    assert not region.address <= later._code_.address < region.address + region.mapped

    address = region.address
    lib.close()
    del lib, later, region, fns[:2]
    gc.collect()
    assert _mapping_of(address) is not None      # bits_f32 still holds the mapping
    del fns
    gc.collect()
    assert _mapping_of(address) is None or _mapping_of(address)[2] != "r-xp"
    assert [tier_jit._cached(s) for s in shapes] == [None] * 3


@needs_jit
def test_functions_created_and_called_from_many_threads(lib):
    if refused_for_layout():
        return
    def work(k):
        for i in range(200):
            # Alternate shapes so threads race to emit and share code.
            if i % 2:
                fn = lib.function("add_i32", "i32", ["i32", "i32"])
                assert fn.tier == "jit" and fn(k, i) == k + i
            else:
                fn = lib.function("add_i64", "i64", ["i64", "i64"])
                assert fn.tier == "jit" and fn(-k, i) == i - k

    assert start_together(8, work) == []


# Real libm/libc functions of many shapes: (name, restype, argtypes, arguments, expected).
SHAPES = [
    ("abs", "i32", ["i32"], (-7,), 7),
    ("labs", "i64", ["i64"], (-2**40,), 2**40),
    ("fabs", "f64", ["f64"], (-2.5,), 2.5),
    ("fabsf", "f32", ["f32"], (-0.5,), 0.5),
    ("ldexp", "f64", ["f64", "i32"], (0.75, 4), 12.0),
    ("atan2", "f64", ["f64", "f64"], (0.0, 1.0), 0.0),
    ("fmaf", "f32", ["f32", "f32", "f32"], (2.0, 3.0, 0.5), 6.5),
    ("toupper", "i32", ["i32"], (ord("q"),), ord("Q")),
    ("strlen", "u64", ["string"], ("threads",), 7),
    ("strncmp", "i32", ["string", "pointer", "u64"], ("abc", b"abd", 2), 0),
    ("htons", "u16", ["u16"], (0x1234,), 0x3412),     # both ABIs here are little-endian
    ("copysign", "f64", ["f64", "f64"], (3.0, -0.0), -3.0),
]


@needs_jit
def test_new_shapes_emitted_from_many_threads_at_once():
    """Threads race to create functions of shapes no thread has made yet (each
    signature with and without the release_gil/use_errno bracket), and call them."""
    if refused_for_layout():
        return
    libm = fastffi.dlopen("libm.so.6")
    libc = fastffi.dlopen(None)

    def work(k):
        for i in range(len(SHAPES) * 2):
            name, restype, argtypes, args, expected = SHAPES[(i + 5 * k) % len(SHAPES)]
            lib = libm if name in ("fabs", "fabsf", "ldexp", "atan2", "fmaf", "copysign") else libc
            fn = lib.function(name, restype, argtypes, release_gil=bool((i + k) % 2), use_errno=bool(k % 3))
            assert fn.tier == "jit", fn.explain()
            assert fn(*args) == expected, name

    errors = start_together(6, work)
    libm.close()
    libc.close()
    assert errors == []


# ---- executable memory refused -------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import sys, fastffi
    lib = fastffi.dlopen(sys.argv[1])
    print("supported", fastffi.jit_supported())
    add = lib.function("add_i32", "i32", ["i32", "i32"])
    f = lib.function("add_f64", "f64", ["f64", "f64"])
    s = lib.function("len_str", "u64", ["string"])
    print(add.tier, add(2, 40), f.tier, f(0.5, 0.25), s.tier, s("hello"))
    try:
        lib.function("add_i32", "i32", ["i32", "i32"], tier="jit")
    except fastffi.FFIError as e:
        print(type(e).__name__, e)
""")

# A seccomp filter (classic BPF) that makes mprotect/pkey_mprotect with
# PROT_EXEC, and anonymous mmap with PROT_EXEC, fail with EPERM -- what a
# hardened kernel or an SELinux execmem denial does.  File mappings (shared
# libraries) stay allowed.
SECCOMP = textwrap.dedent("""
    import ctypes, struct, sys
    AUDIT_ARCH_X86_64 = 0xC000003E
    NR_MMAP, NR_MPROTECT, NR_PKEY_MPROTECT = 9, 10, 329
    PROT_EXEC, MAP_ANONYMOUS = 0x4, 0x20
    RET_ALLOW, RET_EPERM = 0x7FFF0000, 0x00050000 | 1
    LD, JEQ, JSET, RET = 0x20, 0x15, 0x45, 0x06
    def ins(code, jt, jf, k):
        return struct.pack("HBBI", code, jt, jf, k)
    prog = b"".join([
        ins(LD, 0, 0, 4), ins(JEQ, 1, 0, AUDIT_ARCH_X86_64), ins(RET, 0, 0, RET_ALLOW),
        ins(LD, 0, 0, 0),
        ins(JEQ, 3, 0, NR_MPROTECT), ins(JEQ, 2, 0, NR_PKEY_MPROTECT), ins(JEQ, 3, 0, NR_MMAP),
        ins(RET, 0, 0, RET_ALLOW),
        ins(LD, 0, 0, 32), ins(JSET, 4, 5, PROT_EXEC),
        ins(LD, 0, 0, 32), ins(JSET, 0, 3, PROT_EXEC),
        ins(LD, 0, 0, 40), ins(JSET, 0, 1, MAP_ANONYMOUS),
        ins(RET, 0, 0, RET_EPERM),
        ins(RET, 0, 0, RET_ALLOW),
    ])
    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(38, 1, 0, 0, 0) == 0                      # PR_SET_NO_NEW_PRIVS
    fprog = SockFprog(len(prog) // 8, prog)
    assert libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0, ctypes.get_errno()   # PR_SET_SECCOMP, FILTER
""")


def _run_child(fixture_lib_path, prelude="", env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != "FASTFFI_TIER"}
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, "-c", prelude + CHILD, fixture_lib_path], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def _expected_refused_output():
    below = "plan" if "plan" in fastffi.available_tiers() else "libffi"
    reason = ("executable memory is refused here (W^X probe failed, errno 1)" if tier_jit.emitter()
              and tier_jit.layout_refusal() is None else tier_jit.platform_refusal())
    return ["supported False", f"{below} 42 {below} 0.75 {below} 5",
            f"FFIError add_i32: tier 'jit' refused: {reason}"]


@pytest.mark.skipif(not X86_64 or EMULATED, reason="the seccomp filter is written for x86-64 (qemu-user "
                    "refuses guest filters: test_executable_memory_refused_by_the_test_hook covers it there)")
def test_executable_memory_refused_by_seccomp(fixture_lib_path):
    assert _run_child(fixture_lib_path, prelude=SECCOMP) == _expected_refused_output()


def test_executable_memory_refused_by_the_test_hook(fixture_lib_path):
    assert _run_child(fixture_lib_path, env_extra={"FASTFFI_TEST_DENY_EXEC": "1"}) == _expected_refused_output()


def test_capped_tier_never_probes(fixture_lib_path):
    code = ("import fastffi, fastffi._core as c\n"
            "print(fastffi.available_tiers(), c.jit_probe_ran())\n"
            f"lib = fastffi.dlopen({fixture_lib_path!r})\n"
            "print(lib.function('add_i32', 'i32', ['i32', 'i32']).tier, c.jit_probe_ran())\n")
    env = dict(os.environ, FASTFFI_TIER="plan")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    below = tuple(t for t in fastffi.available_tiers() if t != "jit")
    assert proc.stdout.splitlines() == [f"{below!r} False", f"{below[0]} False"]


# ---- x86-64 encoders, checked against a disassembler -----------------------------------------------

# These only assemble bytes, so they run on any host.  The oracle is capstone (the test extra
# installs it), its listing put in objdump's Intel syntax, in which the expected lines are
# written; where an x86-64 objdump is present it is a second oracle, and both must agree.
OBJDUMP = shutil.which("x86_64-linux-gnu-objdump") or (shutil.which("objdump") if X86_64 else None)
_SIZE_PTR = re.compile(r"\b(byte|word|dword|qword|xmmword) ptr\b")
_DECIMAL = re.compile(r"(?<![\w.])(\d+)\b")


def _capstone_x86_64(code: bytes) -> list[str]:
    """capstone's listing, spelt as objdump -M intel spells it."""
    import capstone   # the test extra installs it

    lines, end = [], 0
    for insn in capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64).disasm(code, 0):
        text = f"{insn.mnemonic} {insn.op_str}".strip()
        text = _SIZE_PTR.sub(lambda m: m.group(1).upper() + " PTR", text)
        text = text.replace(", ", ",").replace(" + ", "+").replace(" - ", "-")
        lines.append(_DECIMAL.sub(lambda m: hex(int(m.group(1))), text))
        end = insn.address + insn.size
    assert end == len(code), f"capstone stopped at byte {end} of {len(code)}"
    return lines


def _objdump_x86_64(code: bytes, tmp_path) -> list[str]:
    path = tmp_path / "code.bin"
    path.write_bytes(code)
    out = subprocess.run([OBJDUMP, "-D", "-b", "binary", "-m", "i386:x86-64", "-M", "intel", str(path)],
                         capture_output=True, text=True, check=True).stdout
    lines = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and re.match(r"\s*[0-9a-f]+:$", parts[0]):
            # capstone leaves out an explicit zero displacement ([r13+0x0] is [r13]): so does this.
            lines.append(" ".join(parts[2].split()).replace("+0x0]", "]"))
    return lines


def disassemble(code: bytes, tmp_path) -> list[str]:
    """The Intel-syntax listing of raw x86-64 bytes, one instruction per line."""
    lines = _capstone_x86_64(code)
    if OBJDUMP is not None:
        assert _objdump_x86_64(code, tmp_path) == lines, "capstone and objdump disagree"
    return lines


def encoded(build) -> bytes:
    a = x86_64.X64()
    build(a)
    return bytes(a.code)


R = x86_64
ENCODERS = [
    (lambda a: a.mov_load(R.RAX, R.RDI, 8), "mov rax,QWORD PTR [rdi+0x8]"),
    (lambda a: a.mov_load(R.R9, R.R12, 0), "mov r9,QWORD PTR [r12]"),
    (lambda a: a.mov_load(R.RDX, R.R13, 0), "mov rdx,QWORD PTR [r13]"),   # disp8 0: r13 needs one
    (lambda a: a.mov_load(R.RSI, R.RSP, 0x400), "mov rsi,QWORD PTR [rsp+0x400]"),
    (lambda a: a.mov_load(R.R11, R.RBX, 904), "mov r11,QWORD PTR [rbx+0x388]"),
    (lambda a: a.mov_store(R.RSP, 16, R.RAX), "mov QWORD PTR [rsp+0x10],rax"),
    (lambda a: a.mov_store(R.R12, -8, R.R10), "mov QWORD PTR [r12-0x8],r10"),
    (lambda a: a.mov_rr(R.RBX, R.RDI), "mov rbx,rdi"),
    (lambda a: a.mov_rr(R.R13, R.RAX), "mov r13,rax"),
    (lambda a: a.mov_r32_load(R.RCX, R.RDI, 24), "mov ecx,DWORD PTR [rdi+0x18]"),
    (lambda a: a.mov_imm64(R.RAX, 0x1122334455667788), "movabs rax,0x1122334455667788"),
    (lambda a: a.mov_imm64(R.R11, 1), "movabs r11,0x1"),
    (lambda a: a.mov_imm32(R.RSI, 7), "mov esi,0x7"),
    (lambda a: a.mov_store_imm32(R.RSP, 0x48, 0), "mov DWORD PTR [rsp+0x48],0x0"),
    (lambda a: a.lea(R.RCX, R.RAX, 1), "lea rcx,[rax+0x1]"),
    (lambda a: a.lea(R.R8, R.RSP, 0x20), "lea r8,[rsp+0x20]"),
    (lambda a: a.movsxd(R.RCX, R.RAX), "movsxd rcx,eax"),
    (lambda a: a.movsx8(R.RDI, R.RAX), "movsx rdi,al"),
    (lambda a: a.movsx16(R.RCX, R.RAX), "movsx rcx,ax"),
    (lambda a: a.movzx8(R.RDI, R.RAX), "movzx edi,al"),
    (lambda a: a.movzx16(R.RCX, R.RAX), "movzx ecx,ax"),
    (lambda a: a.mov_r32(R.RCX, R.RAX), "mov ecx,eax"),
    (lambda a: a.cmp_reg_mem(R.RAX, R.RDI, 8), "cmp rax,QWORD PTR [rdi+0x8]"),
    (lambda a: a.cmp_rr(R.RCX, R.RAX), "cmp rcx,rax"),
    (lambda a: a.cmp_rr(R.RDI, R.R8), "cmp rdi,r8"),
    (lambda a: a.cmp_imm(R.RDX, 2), "cmp rdx,0x2"),
    (lambda a: a.cmp_imm(R.RDX, 1000), "cmp rdx,0x3e8"),
    (lambda a: a.cmp_mem_imm8(R.RCX, 16, 0), "cmp QWORD PTR [rcx+0x10],0x0"),
    (lambda a: a.cmpb_mem_imm8(R.RAX, 0, 0), "cmp BYTE PTR [rax],0x0"),
    (lambda a: a.add_mem_imm8(R.RCX, 0, 1), "add QWORD PTR [rcx],0x1"),
    (lambda a: a.add_mem_imm8(R.R12, 8, 1), "add QWORD PTR [r12+0x8],0x1"),
    (lambda a: a.sub_mem_imm8(R.RCX, 0, 1), "sub QWORD PTR [rcx],0x1"),
    (lambda a: a.sub_mem_imm8(R.R13, 0, 1), "sub QWORD PTR [r13],0x1"),   # disp8 0: capstone prints none
    (lambda a: a.cmpd_mem_imm8(R.RSP, 0x58, 0), "cmp DWORD PTR [rsp+0x58],0x0"),
    (lambda a: a.cmp_r32_imm32(R.RCX, 0x7F800000), "cmp ecx,0x7f800000"),
    (lambda a: a.and_r32_imm32(R.RCX, 0x7F800000), "and ecx,0x7f800000"),
    (lambda a: a.test_rr(R.RCX, R.RCX), "test rcx,rcx"),
    (lambda a: a.test_r32(R.RAX, R.RAX), "test eax,eax"),
    (lambda a: a.xor_r32(R.R8, R.R8), "xor r8d,r8d"),
    (lambda a: a.sub_imm(R.RSP, 0x30), "sub rsp,0x30"),
    (lambda a: a.add_imm(R.RSP, 0x30), "add rsp,0x30"),
    (lambda a: a.imul_rr(R.RAX, R.RCX), "imul rax,rcx"),
    (lambda a: a.btr_imm(R.RDX, 63), "btr rdx,0x3f"),
    (lambda a: a.and_imm8(R.RAX, 3), "and rax,0x3"),
    (lambda a: a.neg(R.RAX), "neg rax"),
    (lambda a: a.neg(R.R9), "neg r9"),
    (lambda a: a.inc(R.RAX), "inc rax"),
    (lambda a: a.movq_xmm_load(3, R.RSP, 0x18), "movq xmm3,QWORD PTR [rsp+0x18]"),
    (lambda a: a.movq_xmm_load(0, R.RDI, 16), "movq xmm0,QWORD PTR [rdi+0x10]"),
    (lambda a: a.movq_xmm_store(R.RSP, 0x28, 0), "movq QWORD PTR [rsp+0x28],xmm0"),
    (lambda a: a.cvtsd2ss(0, 0), "cvtsd2ss xmm0,xmm0"),
    (lambda a: a.cvtss2sd(0, 0), "cvtss2sd xmm0,xmm0"),
    (lambda a: a.movd_r32_xmm(R.RAX, 0), "movd eax,xmm0"),
    (lambda a: a.push(R.RBX), "push rbx"),
    (lambda a: a.push(R.R13), "push r13"),
    (lambda a: a.pop(R.R12), "pop r12"),
    (lambda a: a.call_reg(R.RAX), "call rax"),
    (lambda a: a.call_reg(R.R11), "call r11"),
    (lambda a: a.ret(), "ret"),
]


@pytest.mark.no_sanitizer  # capstone dlopens with RTLD_DEEPBIND, which the ASan runtime refuses
@pytest.mark.parametrize("build, listing", ENCODERS, ids=[e[1] for e in ENCODERS])
def test_x86_64_encoder(build, listing, tmp_path):
    assert disassemble(encoded(build), tmp_path) == [listing]


@pytest.mark.parametrize("build, message", [
    (lambda a: a.cmp_mem_imm8(R.RCX, 16, 128), "x86-64: immediate 128 does not fit an 8-bit field (-128..127)"),
    (lambda a: a.cmpd_mem_imm8(R.RSP, 0, -129), "x86-64: immediate -129 does not fit an 8-bit field (-128..127)"),
    (lambda a: a.cmpb_mem_imm8(R.RAX, 0, 256), "x86-64: immediate 256 does not fit an 8-bit field (-128..255)"),
    (lambda a: a.and_imm8(R.RAX, 255), "x86-64: immediate 255 does not fit an 8-bit field (-128..127)"),
    (lambda a: a.btr_imm(R.RDX, 64), "x86-64: immediate 64 does not fit an 8-bit field (0..63)"),
    (lambda a: a.mov_load(R.RAX, R.RDI, 1 << 31), "x86-64: 2147483648 does not fit a signed 32-bit field"),
    (lambda a: a.sub_imm(R.RSP, -(1 << 31) - 1), "x86-64: -2147483649 does not fit a signed 32-bit field"),
    (lambda a: a.mov_imm32(R.RSI, -1), "x86-64: -1 does not fit an unsigned 32-bit field"),
    (lambda a: a.mov_imm64(R.RAX, 1 << 64), "x86-64: 18446744073709551616 does not fit a 64-bit immediate"),
], ids=["cmp_mem_imm8", "cmpd_mem_imm8", "cmpb_mem_imm8", "and_imm8", "btr", "disp32", "imm32", "uimm32", "imm64"])
def test_x86_64_encoders_refuse_what_does_not_fit(build, message):
    """Issue 12 item 11: a value outside its field is a ValueError (never
    masked into another instruction), under python -O too."""
    with pytest.raises(ValueError) as e:
        encoded(build)
    assert str(e.value) == message


def test_encoders_refuse_under_python_O():
    """The range checks are no asserts: ``python -O`` refuses as the normal
    interpreter does (issue 12: it used to encode ``ldr x0, [x1]``)."""
    code = textwrap.dedent("""
        from fastffi.tiers.jit import aarch64, x86_64
        for encode in (lambda: aarch64.A64().ldr_x(0, 1, 32768), lambda: x86_64.X64().cmp_mem_imm8(1, 0, 300)):
            try:
                encode()
            except ValueError as e:
                print(e)
    """)
    proc = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "AArch64: offset 32768 is not a multiple of 8 in 0..32760 (unsigned scaled 12-bit field)",
        "x86-64: immediate 300 does not fit an 8-bit field (-128..127)"]


@pytest.mark.no_sanitizer  # capstone dlopens with RTLD_DEEPBIND, which the ASan runtime refuses
def test_x86_64_branches_are_patched(tmp_path):
    def build(a):
        a.label("top")
        a.jcc(R.JNE, "end")
        a.jcc(R.JA, "top")
        a.jmp("end")
        a.label("end")
        a.ret()
    a = x86_64.X64()
    build(a)
    assert disassemble(a.finish(), tmp_path) == ["jne 0x11", "ja 0x0", "jmp 0x11", "ret"]


# movabs loads run-time addresses (objects, helpers): they differ by process and build.
ADDRESSES = re.compile(r"(?<=movabs )(\w+),0x[0-9a-f]+")


def sysv_shape(sig, bracket=False):
    """The x86-64 shape of ``sig`` from the SysV classifier, on any host."""
    from fastffi.abi import sysv_x86_64

    return tier_jit.shape_from_plan(sig, sysv_x86_64.classify(sig), bracket)


# The listings are of code for CPython 3.11's objects, whatever the interpreter running the tests.
LISTING_RUNTIME = layouts.runtime("cpython-3.11-release", _core.JIT_RUNTIME)


def emitted(restype, argtypes, bracket=False):
    return x86_64.emit(sysv_shape(make_signature("f", restype, argtypes), bracket), LISTING_RUNTIME)


# (layout, the int fast path between the type check and the store, branch targets: each
# argument's slow path and done label, the open-library label, the last-call label)
INT_PATHS = {
    "cpython-3.11-release": (["mov rax,QWORD PTR [rdi+0x10]", "lea rcx,[rax+0x1]", "cmp rcx,0x2", "ja {slow}",
                              "mov ecx,DWORD PTR [rdi+0x18]", "imul rax,rcx"],
                             [("0x9d", "0xd3"), ("0x116", "0x14e")], "0x17c", "0x1c7"),
    # 3.12-3.15: compact iff lv_tag < 16, value = (1 - (lv_tag & 3)) * ob_digit[0]
    "cpython-3.12-release": (["mov rax,QWORD PTR [rdi+0x10]", "cmp rax,0xf", "ja {slow}",
                              "mov ecx,DWORD PTR [rdi+0x18]", "and rax,0x3", "neg rax", "inc rax",
                              "imul rax,rcx"],
                             [("0xa3", "0xd9"), ("0x122", "0x15a")], "0x188", "0x1d3"),
}


@pytest.mark.no_sanitizer  # capstone dlopens with RTLD_DEEPBIND, which the ASan runtime refuses
@pytest.mark.parametrize("layout", sorted(INT_PATHS))
def test_x86_64_listing_add_i32(tmp_path, layout):
    rt = _core.JIT_RUNTIME
    code = x86_64.emit(sysv_shape(make_signature("f", "i32", ["i32", "i32"])), layouts.runtime(layout, rt))
    lines = [ADDRESSES.sub(r"\1,ADDR", line) for line in disassemble(code, tmp_path)]
    epilogue = ["add rsp,0x30", "pop r13", "pop r12", "pop rbx", "ret"]
    int_path, targets, open_label, last_label = INT_PATHS[layout]

    def argument(i, slow, done):
        """Fast path (the value is stored before its range check, which ends
        the path), the convert helper, then this argument's failure exit."""
        offset = "+0x8" if i else ""
        return [f"mov rdi,QWORD PTR [r12{offset}]", "movabs rax,ADDR",
                "cmp rax,QWORD PTR [rdi+0x8]", f"jne {slow}",
                *[line.format(slow=slow) for line in int_path], f"mov QWORD PTR [rsp{offset}],rax",
                "movsxd rcx,eax", "cmp rcx,rax", f"je {done}",
                "mov rdi,rbx", f"mov esi,{hex(i)}", f"mov rdx,QWORD PTR [r12{offset}]",
                f"lea rcx,[rsp{offset}]", "xor r8d,r8d", "movabs rax,ADDR", "call rax",   # convert
                "test eax,eax", f"je {done}", "xor eax,eax", *epilogue]

    closed = hex(rt["fn_closed"])
    target = hex(rt["fn_target"])
    inflight = hex(rt["fn_inflight"])
    assert lines == [
        "push rbx", "push r12", "push r13", "sub rsp,0x30", "mov rbx,rdi", "mov r12,rsi",
        "test rcx,rcx", "jne 0x4c", "btr rdx,0x3f", "cmp rdx,0x2", "je 0x5c",
        "mov rdi,rbx", "mov rsi,rdx", "mov rdx,rcx", "movabs rax,ADDR", "call rax", *epilogue,   # reject
        "cmp QWORD PTR [rcx+0x10],0x0", "je 0x1b", "jmp 0x2a",                               # kwnames
        *argument(0, *targets[0]), *argument(1, *targets[1]),
        # The closed library, checked after the last conversion (which may close it).
        f"mov rax,QWORD PTR [rbx+{closed}]", "cmp BYTE PTR [rax],0x0", f"je {open_label}",
        "mov rdi,rbx", "xor esi,esi", "movabs rax,ADDR", "call rax", *epilogue,                 # closed
        # In flight on the library around the call (tiers/call.h): two instructions in, three out.
        f"mov rcx,QWORD PTR [rbx+{inflight}]", "add QWORD PTR [rcx],0x1",
        "mov rdi,QWORD PTR [rsp]", "mov rsi,QWORD PTR [rsp+0x8]",
        f"mov r11,QWORD PTR [rbx+{target}]", "call r11",
        f"mov rcx,QWORD PTR [rbx+{inflight}]", "sub QWORD PTR [rcx],0x1", f"je {last_label}",
        "movsxd rdi,eax", "movabs rax,ADDR", "call rax",               # PyLong_FromLong
        *epilogue,
        # The last call of a library closed meanwhile: boxed, then the helper unloads.
        "movsxd rdi,eax", "movabs rax,ADDR", "call rax", "mov r12,rax",
        "mov rdi,rbx", "movabs rax,ADDR", "call rax", "mov rax,r12", *epilogue,
    ]


@pytest.mark.no_sanitizer  # capstone dlopens with RTLD_DEEPBIND, which the ASan runtime refuses
def test_x86_64_listing_floats_strings_and_bracket(tmp_path):
    lines = disassemble(emitted("f64", ["f32", "f64"]), tmp_path)
    start = lines.index("mov rdi,QWORD PTR [r12]")
    # f32: converted inline and stored; infinities/NaNs go on to the slow path.
    assert lines[start:start + 14] == [
        "mov rdi,QWORD PTR [r12]", f"movabs rax,{hex(_core.JIT_RUNTIME['PyFloat_Type'])}",
        "cmp rax,QWORD PTR [rdi+0x8]", lines[start + 3], "movq xmm0,QWORD PTR [rdi+0x10]", "cvtsd2ss xmm0,xmm0",
        "movd eax,xmm0", "mov QWORD PTR [rsp],rax", "mov ecx,eax", "and ecx,0x7f800000", "cmp ecx,0x7f800000",
        lines[start + 11], "mov rdi,rbx", "mov esi,0x0",
    ]
    assert lines[start + 3].startswith("jne ") and lines[start + 11].startswith("jne ")
    assert "movq xmm0,QWORD PTR [rsp]" in lines and "movq xmm1,QWORD PTR [rsp+0x8]" in lines
    lines = disassemble(emitted("string", ["pointer", "string", "bool", "u8"], bracket=True), tmp_path)
    calls = [lines[i - 1] for i, line in enumerate(lines) if line == "call rax"]
    rt = _core.JIT_RUNTIME
    order = [next(k for k in ("enter", "leave", "release", "box_release", "box", "convert", "reject", "closed",
                              "last_call")
                  if f"movabs rax,{hex(rt[k])}" == c) for c in calls]
    # reject in the entry block; each argument's convert call and failure exit
    # (releasing buffers); the closed library's exit (its helper releases them); enter,
    # the call, leave (errno first), then one helper boxing the string before it
    # releases the buffers (the string may point into a str argument's copy; NULL
    # when a callback passed to the call raised); the last call of a library
    # closed during it: the helper that unloads.
    assert order == (["reject"] + ["convert", "release"] * 4 + ["closed"]   # closed releases them itself
                     + ["enter", "leave", "box_release", "last_call"])
    assert "mov QWORD PTR [rsp+0x20],rax" in lines and "movq QWORD PTR [rsp+0x28],xmm0" in lines


def _rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _anonymous_kib():
    """KiB of anonymous mappings (heap, Python's arenas, code regions): what
    this process maps, as it sees it itself -- under qemu-user too, whose RSS
    also counts its translation cache, grown in 2 MB huge pages as new code
    addresses are translated."""
    total = 0
    for rng, _perms, _offset, _dev, inode, *path in _maps():
        if inode == "0" and (not path or path[0] == "[heap]"):
            start, end = (int(x, 16) for x in rng.split("-"))
            total += end - start
    return total // 1024


@pytest.mark.no_sanitizer  # RSS growth: ASan keeps freed blocks in quarantine
def test_created_and_dropped_functions_are_freed(lib, tier):
    """A Function is a heap type (a reference cycle through its MRO): the cycle
    collector must free it, its plan, its libffi data and its code."""
    def churn(n):
        for i in range(n):
            fn = lib.function("add_i32", "i32", ["i32", "i32"], tier=tier)
            assert fn(i, 1) == i + 1
            del fn
            if i % 500 == 0:
                gc.collect()
        gc.collect()

    churn(2000)
    before_rss, before_mapped, before_blocks = _rss_kib(), _anonymous_kib(), sys.getallocatedblocks()
    churn(10000)
    assert sys.getallocatedblocks() - before_blocks < 1000
    assert _anonymous_kib() - before_mapped < 2048    # nothing stays mapped, code regions included
    if not EMULATED:
        assert _rss_kib() - before_rss < 2048
