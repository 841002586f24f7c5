"""Libraries, symbols, Function objects, tier selection and the per-function options
(release_gil, use_errno), written from the public API specification (issue 2) and
docs/errors.md."""
from __future__ import annotations

import ctypes
import errno
import gc
import os
import pathlib
import subprocess
import sys
import threading
import uuid

import pytest

import fastffi
from conftest import compile_shared, struct_tier

DATA = pathlib.Path(__file__).parent / "data"
LIBC = "libc.so.6"
LIBM = "libm.so.6"
TIER_ORDER = ("jit", "plan", "libffi")  # fastest first


@pytest.fixture(scope="module")
def shadow_path(tmp_path_factory):
    return compile_shared([DATA / "shadow.c"], tmp_path_factory.mktemp("shadow"), "fastffi_shadow")


def fresh_tagged_lib(tmp_path, prefix):
    """A library nothing in this process has loaded yet, exporting one function `int tag(void)`."""
    tag = f"fastffi_{prefix}_{uuid.uuid4().hex[:12]}"
    path = compile_shared([DATA / "tagged.c"], tmp_path, tag, [f"-DTAG={tag}"])
    return path, tag


def loader_message(name):
    """What the dynamic loader says when asked to load `name` (ctypes passes dlerror() through)."""
    with pytest.raises(OSError) as info:
        ctypes.CDLL(name)
    return str(info.value)


def expected_auto_tier(ceiling=None):
    allowed = TIER_ORDER if ceiling is None else TIER_ORDER[TIER_ORDER.index(ceiling):]
    return next(t for t in fastffi.available_tiers() if t in allowed)


@pytest.fixture
def no_tier_env(monkeypatch):
    monkeypatch.delenv("FASTFFI_TIER", raising=False)


# ---------------------------------------------------------------- available tiers

def test_available_tiers_is_a_tuple_fastest_first():
    tiers = fastffi.available_tiers()
    assert isinstance(tiers, tuple)
    assert tiers, "at least the libffi tier must be available"
    assert tiers[-1] == "libffi"
    assert set(tiers) <= set(TIER_ORDER)
    assert list(tiers) == sorted(tiers, key=TIER_ORDER.index)
    assert len(set(tiers)) == len(tiers)


# ---------------------------------------------------------------- dlopen

def test_dlopen_path_str(mini_path, tier):
    lib = fastffi.dlopen(mini_path)
    try:
        add = lib.function("mini_add_i32", "i32", ["i32", "i32"], tier=tier)
        assert add(2, 3) == 5
        assert lib.name == mini_path
        assert lib.closed is False
    finally:
        lib.close()


def test_dlopen_pathlike(mini_path, tier):
    path = pathlib.Path(mini_path)
    with fastffi.dlopen(path) as lib:
        add = lib.function("mini_add_i32", "i32", ["i32", "i32"], tier=tier)
        assert add(-7, 3) == -4
        assert os.fspath(lib.name) == mini_path


def test_dlopen_bare_soname(tier):
    with fastffi.dlopen(LIBM) as lib:
        cos = lib.function("cos", "f64", ["f64"], tier=tier)
        assert cos(0.0) == 1.0
        assert lib.name == LIBM


def test_dlopen_none_is_the_running_process(tier):
    proc = fastffi.dlopen(None)
    try:
        addr = proc.symbol("strlen")
        assert isinstance(addr, int) and addr != 0
        assert addr == ctypes.cast(ctypes.CDLL(None).strlen, ctypes.c_void_p).value
        strlen = fastffi.function(addr, "u64", ["string"], name="strlen", tier=tier)
        assert strlen("hello") == 5
        assert proc.function("size_t strlen(const char *)", tier=tier)("abc") == 3
    finally:
        proc.close()


def test_dlopen_missing_path_carries_loader_message():
    name = "/nonexistent/dir/libfastffi_missing.so"
    with pytest.raises(fastffi.LibraryError) as info:
        fastffi.dlopen(name)
    assert str(info.value) == f"cannot load library {name!r}: {loader_message(name)}"
    assert isinstance(info.value, OSError)


def test_dlopen_missing_soname_carries_loader_message():
    name = "libfastffi_no_such_library.so.7"
    with pytest.raises(fastffi.LibraryError) as info:
        fastffi.dlopen(name)
    assert str(info.value) == f"cannot load library {name!r}: {loader_message(name)}"


def test_dlopen_not_an_elf_file(tmp_path):
    bogus = tmp_path / "libbogus.so"
    bogus.write_text("this is not a shared object\n")
    with pytest.raises(fastffi.LibraryError) as info:
        fastffi.dlopen(str(bogus))
    assert str(info.value) == f"cannot load library {str(bogus)!r}: {loader_message(str(bogus))}"


def test_mode_default_is_local(tmp_path):
    path, tag = fresh_tagged_lib(tmp_path, "local")
    with fastffi.dlopen(path) as lib:
        assert lib.symbol(tag) != 0
        with fastffi.dlopen(None) as proc, pytest.raises(fastffi.SymbolError):
            proc.symbol(tag)


def test_mode_global_exports_symbols_to_the_process(tmp_path, tier):
    path, tag = fresh_tagged_lib(tmp_path, "global")
    with fastffi.dlopen(path, mode=os.RTLD_NOW | os.RTLD_GLOBAL) as lib:
        with fastffi.dlopen(None) as proc:
            assert proc.symbol(tag) == lib.symbol(tag)
            assert proc.function(tag, "i32", [], tier=tier)() == 42


def test_mode_is_passed_to_the_loader(tmp_path):
    # RTLD_NOLOAD only succeeds for a library that is already loaded.
    path, _tag = fresh_tagged_lib(tmp_path, "noload")
    with pytest.raises(fastffi.LibraryError) as info:
        fastffi.dlopen(path, mode=os.RTLD_NOW | os.RTLD_NOLOAD)
    assert str(info.value).startswith(f"cannot load library {path!r}: ")
    with fastffi.dlopen(LIBC, mode=os.RTLD_NOW | os.RTLD_NOLOAD) as libc:
        assert libc.symbol("strlen") != 0
    with fastffi.dlopen(LIBM, mode=os.RTLD_LAZY | os.RTLD_LOCAL) as libm:
        assert libm.function("double cos(double)")(0.0) == 1.0


# ---------------------------------------------------------------- error classes

@pytest.mark.parametrize("cls, bases", [
    ("FFIError", (Exception,)),
    ("LibraryError", ("FFIError", OSError)),
    ("SymbolError", ("FFIError", LookupError)),
    ("SignatureError", ("FFIError", ValueError)),
    ("LibraryClosedError", ("FFIError", RuntimeError)),
])
def test_error_class_bases(cls, bases):
    klass = getattr(fastffi, cls)
    assert isinstance(klass, type) and issubclass(klass, Exception)
    for base in bases:
        base = getattr(fastffi, base) if isinstance(base, str) else base
        assert issubclass(klass, base)
        assert isinstance(klass("message"), base)


def test_errors_are_catchable_by_their_builtin_bases():
    with pytest.raises(OSError):
        fastffi.dlopen("/nonexistent/libnothing.so")
    with fastffi.dlopen(LIBC) as libc:
        with pytest.raises(LookupError):
            libc.symbol("fastffi_no_such_symbol")
        with pytest.raises(ValueError):
            libc.function("strlen", "nope_type", [])
        fn = libc.function("int abs(int)")
    with pytest.raises(RuntimeError):
        fn(1)


# ---------------------------------------------------------------- definitions

def test_definitions_tuple_and_declaration_forms():
    lib = fastffi.dlopen(LIBM, {"cos": ("f64", ["f64"]), "pow": "double pow(double, double)"})
    try:
        assert lib.cos(0.5) == pytest.approx(0.8775825618903728, abs=0)
        assert lib["cos"](0.5) == lib.cos(0.5)
        assert lib.pow(2.0, 10.0) == 1024.0
        assert lib["pow"](3.0, 2.0) == 9.0
        assert lib.cos.__name__ == "cos"
        assert lib["pow"].restype == "f64"
        assert lib["pow"].argtypes == ("f64", "f64")
        assert lib["cos"].argtypes == ("f64",)
        assert lib["cos"].address == lib.symbol("cos")
        with pytest.raises(AttributeError):
            lib.fastffi_not_defined_here
    finally:
        lib.close()


def test_definitions_with_c_spellings_in_tuple_form():
    with fastffi.dlopen(LIBC, {"labs": ("long", ["long"]), "strlen": ("size_t", ["const char *"])}) as libc:
        assert libc.labs(-(2**40)) == 2**40
        assert libc.labs.restype == "i64"
        assert libc.strlen("four") == 4
        assert libc.strlen.argtypes == ("string",)
        assert libc.strlen.restype == "u64"


def test_definition_shadowing_a_method_only_via_getitem(shadow_path):
    defs = {
        "close": "int close(int)",
        "function": ("i32", []),
        "symbol": ("i32", []),
        "name": "int name(void)",
        "closed": "int closed(void)",
    }
    # close() comes from libc (shadow.c's dependency), the others from shadow.c
    with fastffi.dlopen(LIBC, {"close": defs.pop("close")}) as libc:
        assert callable(libc.close) and not isinstance(libc.close, type(libc["close"]))
        assert libc["close"].__name__ == "close"
        assert libc["close"](-1) == -1
        assert libc.closed is False
    assert libc.closed is True
    lib = fastffi.dlopen(shadow_path, defs)
    try:
        assert lib["function"]() == 1
        assert lib["symbol"]() == 2
        assert lib["name"]() == 3
        assert lib["closed"]() == 4
        assert lib.name == shadow_path
        assert lib.closed is False
        assert lib.symbol("symbol") == lib["symbol"].address
        assert lib.function("int function(void)")() == 1
    finally:
        lib.close()
    assert lib.closed is True


def test_missing_symbol_among_definitions_raises_from_dlopen():
    with pytest.raises(fastffi.SymbolError) as info:
        fastffi.dlopen(LIBM, {"cos": ("f64", ["f64"]), "fastffi_nope": ("f64", ["f64"])})
    assert str(info.value) == f"symbol 'fastffi_nope' not found in {LIBM!r}"


def test_symbol_returns_the_raw_address():
    with fastffi.dlopen("libz.so.1") as libz:
        addr = libz.symbol("zlibVersion")
        assert isinstance(addr, int)
        assert addr == ctypes.cast(ctypes.CDLL("libz.so.1").zlibVersion, ctypes.c_void_p).value
        with pytest.raises(fastffi.SymbolError) as info:
            libz.symbol("zlibVersionNope")
        assert str(info.value) == "symbol 'zlibVersionNope' not found in 'libz.so.1'"


def test_function_missing_symbol_raises_symbolerror(mini_path):
    with fastffi.dlopen(mini_path) as lib:
        with pytest.raises(fastffi.SymbolError) as info:
            lib.function("mini_missing", "void", [])
        assert str(info.value) == f"symbol 'mini_missing' not found in {mini_path!r}"
        with pytest.raises(fastffi.SymbolError):
            lib.function("int mini_missing_too(int)")


def test_repr_mentions_the_name(mini_path):
    with fastffi.dlopen(mini_path) as lib:
        assert mini_path in repr(lib)
        fn = lib.function("mini_add_i32", "i32", ["i32", "i32"])
        assert "mini_add_i32" in repr(fn)


# ---------------------------------------------------------------- close

def test_close_is_idempotent_and_context_manager(mini_path):
    lib = fastffi.dlopen(mini_path)
    with lib as entered:
        assert entered is lib
        assert lib.closed is False
    assert lib.closed is True
    lib.close()
    lib.close()
    assert lib.closed is True


def test_context_manager_closes_on_exception(mini_path):
    with pytest.raises(KeyError):
        with fastffi.dlopen(mini_path) as lib:
            raise KeyError("boom")
    assert lib.closed is True


def test_functions_of_a_closed_library_raise(mini_path, tier):
    lib = fastffi.dlopen(mini_path, {"mini_add_f64": ("f64", ["f64", "f64"])})
    add = lib.function("mini_add_i32", "i32", ["i32", "i32"], tier=tier)
    noop = lib.function("void mini_noop(void)", tier=tier)
    point = fastffi.struct("MiniPointL", [("x", "f64"), ("y", "f64")])
    make = lib.function("mini_point_make", point, ["f64", "f64"], tier=struct_tier(tier))
    addf = lib["mini_add_f64"]
    assert add(1, 2) == 3 and addf(1.0, 2.0) == 3.0 and noop() is None
    assert make(1.0, 2.0).y == 2.0
    lib.close()
    for fn, args in [(add, (1, 2)), (addf, (1.0, 2.0)), (noop, ()), (make, (1.0, 2.0))]:
        for _ in range(3):
            with pytest.raises(fastffi.LibraryClosedError) as info:
                fn(*args)
            assert str(info.value) == f"{fn.__name__}(): library {mini_path!r} is closed"
    # attributes still readable after close
    assert add.__name__ == "mini_add_i32" and add.argtypes == ("i32", "i32")
    lib.close()
    with pytest.raises(fastffi.LibraryClosedError):
        add(1, 2)


def test_closed_library_rejects_new_functions_and_symbols(mini_path):
    lib = fastffi.dlopen(mini_path)
    lib.close()
    with pytest.raises(fastffi.FFIError):
        lib.function("mini_add_i32", "i32", ["i32", "i32"])
    with pytest.raises(fastffi.FFIError):
        lib.symbol("mini_add_i32")


def test_function_keeps_its_library_alive(tmp_path, tier):
    path, tag = fresh_tagged_lib(tmp_path, "alive")
    lib = fastffi.dlopen(path)
    fn = lib.function(tag, "i32", [], tier=tier)
    del lib
    gc.collect()
    assert fn() == 42


# ---------------------------------------------------------------- fastffi.function

def test_function_from_address(mini_path, tier):
    with fastffi.dlopen(mini_path) as lib:
        addr = lib.symbol("mini_add_i32")
        fn = fastffi.function(addr, "i32", ["i32", "i32"], name="add", tier=tier)
        assert fn(40, 2) == 42
        assert fn.address == addr
        assert fn.__name__ == "add"
        assert fn.restype == "i32"
        assert fn.argtypes == ("i32", "i32")
        assert fn.tier == tier


def test_function_from_a_function_keeps_its_library(tmp_path, tier):
    path, tag = fresh_tagged_lib(tmp_path, "derived")
    lib = fastffi.dlopen(path)
    fn = lib.function(tag, "i32", [], tier=tier)
    derived = fastffi.function(fn, "i32", [], name="again", tier=tier)
    decl = fastffi.function(fn, "int from_decl(void)", tier=tier)
    assert derived._handle_ is fn._handle_ and decl._handle_ is fn._handle_
    del fn
    gc.collect()
    assert derived() == 42    # the handle kept the library loaded
    lib.close()
    with pytest.raises(fastffi.LibraryClosedError) as e:
        derived()
    assert str(e.value) == f"again(): library {path!r} is closed"
    with pytest.raises(fastffi.LibraryClosedError):
        decl()


def test_function_from_ctypes_address(tier):
    addr = ctypes.cast(ctypes.CDLL(LIBC).labs, ctypes.c_void_p).value
    labs = fastffi.function(addr, "long", ["long"], name="labs", tier=tier)
    assert labs(-5) == 5
    assert labs.restype == "i64"


def test_function_address_zero_raises():
    with pytest.raises(ValueError) as info:
        fastffi.function(0, "i32", ["i32", "i32"], name="add")
    assert str(info.value) == "function address must not be NULL"


@pytest.mark.parametrize("bad", [-1, -(2**63), 2**64, 2**70])
def test_function_address_out_of_range(bad):
    # an address is a pointer value: [0, 2**64), negative -> OverflowError (Types table)
    with pytest.raises(OverflowError):
        fastffi.function(bad, "i32", ["i32"], name="f")


@pytest.mark.parametrize("bad", [1.5, "0x1234", None])
def test_function_address_wrong_type(bad):
    with pytest.raises(TypeError):
        fastffi.function(bad, "i32", ["i32"], name="f")


def test_function_attributes(mini_path, tier):
    with fastffi.dlopen(mini_path) as lib:
        fn = lib.function("int32_t mini_add_i32(int32_t a, int32_t b)", tier=tier)
        assert fn.__name__ == "mini_add_i32"
        assert fn.address == lib.symbol("mini_add_i32")
        assert fn.restype == "i32"
        assert fn.argtypes == ("i32", "i32")
        assert isinstance(fn.argtypes, tuple)
        assert fn.tier == tier
        noop = lib.function("mini_noop", "void", [], tier=tier)
        assert noop.restype == "void" and noop.argtypes == ()
        assert noop() is None
        point = fastffi.struct("MiniPointA", [("x", "f64"), ("y", "f64")])
        dot = lib.function("mini_point_dot", "f64", [point, point], tier=struct_tier(tier))
        assert dot.argtypes == (point, point)
        assert dot(point(x=1.0, y=2.0), point(x=3.0, y=4.0)) == 11.0
        make = lib.function("mini_point_make", point, ["double", "double"], tier=struct_tier(tier))
        assert make.restype is point
        p = make(1.5, -2.5)
        assert type(p) is point and (p.x, p.y) == (1.5, -2.5)


def test_function_is_accepted_as_a_pointer_argument(mini_path, tier):
    with fastffi.dlopen(mini_path) as lib:
        ident = lib.function("mini_id_pointer", "pointer", ["pointer"], tier=tier)
        add = lib.function("mini_add_i32", "i32", ["i32", "i32"], tier=tier)
        assert ident(add) == add.address


# ---------------------------------------------------------------- tier selection

def test_exact_tier_libffi(mini_path, no_tier_env):
    with fastffi.dlopen(mini_path) as lib:
        fn = lib.function("mini_add_i32", "i32", ["i32", "i32"], tier="libffi")
        assert fn.tier == "libffi"
        assert fn(2, 2) == 4


def test_auto_takes_the_fastest_available(mini_path, no_tier_env):
    with fastffi.dlopen(mini_path) as lib:
        assert lib.function("mini_add_i32", "i32", ["i32", "i32"]).tier == expected_auto_tier()
        assert lib.function("mini_add_i32", "i32", ["i32", "i32"], tier="auto").tier == expected_auto_tier()


def test_exact_request_of_an_unavailable_tier_is_refused(mini_path, tmp_path):
    """In a process where executable memory is refused (the test hook of
    _core/tiers/execmem.c), an exact JIT request raises FFIError with the reason,
    and auto falls back to the plan tier."""
    script = tmp_path / "deny.py"
    script.write_text(
        "import fastffi\n"
        f"lib = fastffi.dlopen({mini_path!r})\n"
        "try:\n"
        "    lib.function('mini_add_i32', 'i32', ['i32', 'i32'], tier='jit')\n"
        "except fastffi.FFIError as e:\n"
        "    print(type(e).__name__, e)\n"
        "f = lib.function('mini_add_i32', 'i32', ['i32', 'i32'])\n"
        "print(f.tier, f(2, 3), fastffi.available_tiers())\n")
    env = {k: v for k, v in os.environ.items() if k != "FASTFFI_TIER"}
    env["FASTFFI_TEST_DENY_EXEC"] = "1"
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    below = [t for t in fastffi.available_tiers() if t != "jit"]
    assert out.stdout.splitlines() == [
        "FFIError mini_add_i32: tier 'jit' refused: executable memory is refused here (W^X probe failed, errno 1)"
        if jit_platform() else
        f"FFIError mini_add_i32: tier 'jit' refused: {fastffi.tiers.jit.platform_refusal()}",
        f"{below[0]} 5 {tuple(below)!r}",
    ]


def jit_platform():
    return fastffi.tiers.jit.emitter() is not None and fastffi.tiers.jit.layout_refusal() is None


@pytest.mark.parametrize("bad", ["fast", "LIBFFI", "", "ctypes"])
def test_unknown_tier_value(mini_path, bad):
    with fastffi.dlopen(mini_path) as lib:
        with pytest.raises(ValueError) as info:
            lib.function("mini_add_i32", "i32", ["i32", "i32"], tier=bad)
        assert str(info.value) == f"unknown tier {bad!r} (expected 'auto', 'jit', 'plan' or 'libffi')"
        with pytest.raises(ValueError) as info:
            fastffi.function(lib.symbol("mini_add_i32"), "i32", ["i32", "i32"], name="add", tier=bad)
        assert str(info.value) == f"unknown tier {bad!r} (expected 'auto', 'jit', 'plan' or 'libffi')"


@pytest.mark.parametrize("ceiling", TIER_ORDER)
def test_env_tier_is_a_ceiling_for_auto(mini_path, monkeypatch, ceiling):
    monkeypatch.setenv("FASTFFI_TIER", ceiling)
    with fastffi.dlopen(mini_path) as lib:
        fn = lib.function("mini_add_i32", "i32", ["i32", "i32"])
        assert fn.tier == expected_auto_tier(ceiling)
        assert fn(20, 22) == 42


@pytest.mark.parametrize("requested", ["jit", "plan", "libffi"])
def test_env_tier_lowers_an_exact_request(mini_path, monkeypatch, requested):
    monkeypatch.setenv("FASTFFI_TIER", "libffi")
    with fastffi.dlopen(mini_path) as lib:
        fn = lib.function("mini_add_i32", "i32", ["i32", "i32"], tier=requested)
        assert fn.tier == "libffi"
        assert fn(1, 1) == 2


def test_env_tier_does_not_raise_an_exact_request(mini_path, monkeypatch):
    monkeypatch.setenv("FASTFFI_TIER", "jit")
    with fastffi.dlopen(mini_path) as lib:
        assert lib.function("mini_add_i32", "i32", ["i32", "i32"], tier="libffi").tier == "libffi"


def test_env_tier_is_read_at_each_creation(mini_path, monkeypatch):
    with fastffi.dlopen(mini_path) as lib:
        monkeypatch.setenv("FASTFFI_TIER", "libffi")
        assert lib.function("mini_add_i32", "i32", ["i32", "i32"]).tier == "libffi"
        monkeypatch.setenv("FASTFFI_TIER", "bogus")
        with pytest.raises(ValueError):
            lib.function("mini_add_i32", "i32", ["i32", "i32"])
        monkeypatch.delenv("FASTFFI_TIER")
        assert lib.function("mini_add_i32", "i32", ["i32", "i32"]).tier == expected_auto_tier()


@pytest.mark.parametrize("bad", ["bogus", "auto", "JIT"])
def test_env_tier_unknown_value(mini_path, monkeypatch, bad):
    monkeypatch.setenv("FASTFFI_TIER", bad)
    expected = f"FASTFFI_TIER={bad!r} is not a tier (expected 'jit', 'plan' or 'libffi')"
    with fastffi.dlopen(mini_path) as lib:
        with pytest.raises(ValueError) as info:
            lib.function("mini_add_i32", "i32", ["i32", "i32"])
        assert str(info.value) == expected
        with pytest.raises(ValueError) as info:
            fastffi.function(lib.symbol("mini_add_i32"), "i32", ["i32", "i32"], name="add")
        assert str(info.value) == expected
        with pytest.raises(ValueError) as info:
            lib.function("mini_add_i32", "i32", ["i32", "i32"], tier="libffi")
        assert str(info.value) == expected


def test_env_tier_applies_to_definitions(monkeypatch):
    monkeypatch.setenv("FASTFFI_TIER", "bogus")
    with pytest.raises(ValueError) as info:
        fastffi.dlopen(LIBM, {"cos": ("f64", ["f64"])})
    assert str(info.value) == "FASTFFI_TIER='bogus' is not a tier (expected 'jit', 'plan' or 'libffi')"
    monkeypatch.setenv("FASTFFI_TIER", "libffi")
    with fastffi.dlopen(LIBM, {"cos": ("f64", ["f64"])}) as libm:
        assert libm.cos.tier == "libffi"


# ---------------------------------------------------------------- explain

def test_explain_names_signature_tier_and_refusals(mini_path, no_tier_env):
    with fastffi.dlopen(mini_path) as lib:
        fn = lib.function("int mini_add_i32(int, int)")
        text = fn.explain()
        assert isinstance(text, str)
        assert "i32 mini_add_i32(i32, i32)" in text
        lines = [line.strip() for line in text.splitlines()]
        assert f"tier: {fn.tier}" in lines
        faster = TIER_ORDER[:TIER_ORDER.index(fn.tier)]
        body = [line for line in lines if not line.startswith("tier:")]
        for t in faster:
            assert any(t in line for line in body), f"no reason given for refusing {t!r}:\n{text}"


def test_explain_exact_libffi(mini_path, no_tier_env):
    with fastffi.dlopen(mini_path) as lib:
        fn = lib.function("mini_add_f64", "f64", ["f64", "f64"], tier="libffi")
        text = fn.explain()
        assert "f64 mini_add_f64(f64, f64)" in text
        assert "tier: libffi" in [line.strip() for line in text.splitlines()]


# ---------------------------------------------------------------- release_gil, use_errno

def test_release_gil_option_calls_correctly(mini_path, tier):
    with fastffi.dlopen(mini_path, release_gil=True) as lib:
        add = lib.function("mini_add_i32", "i32", ["i32", "i32"], tier=tier)
        assert add(-3, 10) == 7
        slow = lib.function("mini_sleep_ms", "i64", ["i32", "i64"], tier=tier, release_gil=True)
        assert slow(1, 2**40) == 2**40
    with fastffi.dlopen(mini_path) as lib:
        add = lib.function("mini_add_i32", "i32", ["i32", "i32"], tier=tier, release_gil=False)
        assert add(1, 2) == 3
    addr = ctypes.cast(ctypes.CDLL(LIBC).labs, ctypes.c_void_p).value
    assert fastffi.function(addr, "i64", ["i64"], name="labs", release_gil=True, tier=tier)(-9) == 9


def test_set_and_get_errno():
    fastffi.set_errno(errno.EINTR)
    assert fastffi.get_errno() == errno.EINTR
    fastffi.set_errno(0)
    assert fastffi.get_errno() == 0


def test_use_errno_strtol_erange(tier):
    with fastffi.dlopen(LIBC) as libc:
        strtol = libc.function("long strtol(const char *, char **, int)", use_errno=True, tier=tier)
        fastffi.set_errno(0)
        assert strtol("99999999999999999999999", None, 10) == 2**63 - 1
        assert fastffi.get_errno() == errno.ERANGE
        # a successful strtol leaves errno as the call started with it
        fastffi.set_errno(0)
        assert strtol("12", None, 10) == 12
        assert fastffi.get_errno() == 0


def test_use_errno_close_ebadf_via_dlopen_default(tier):
    with fastffi.dlopen(LIBC, {"close": "int close(int)"}, use_errno=True) as libc:
        fastffi.set_errno(0)
        assert libc["close"](-1) == -1
        assert fastffi.get_errno() == errno.EBADF
        close2 = libc.function("close", "i32", ["i32"], tier=tier)  # inherits use_errno=True
        fastffi.set_errno(0)
        assert close2(-1) == -1
        assert fastffi.get_errno() == errno.EBADF


def test_set_errno_is_what_the_next_call_starts_with(mini_path, tier):
    with fastffi.dlopen(mini_path) as lib:
        peek = lib.function("mini_get_errno", "i32", [], use_errno=True, tier=tier)
        fastffi.set_errno(errno.ENOENT)
        assert peek() == errno.ENOENT
        assert fastffi.get_errno() == errno.ENOENT
        fail = lib.function("mini_fail_errno", "i32", ["i32"], use_errno=True, tier=tier)
        assert fail(errno.EACCES) == -1
        assert fastffi.get_errno() == errno.EACCES
        assert peek() == errno.EACCES


def test_use_errno_captured_before_result_conversion(mini_path, tier):
    with fastffi.dlopen(mini_path) as lib:
        fail = lib.function("const char *mini_fail_errno_str(int)", use_errno=True, tier=tier)
        fastffi.set_errno(0)
        assert fail(errno.EILSEQ) == "failed"
        assert fastffi.get_errno() == errno.EILSEQ


def test_without_use_errno_errno_is_not_captured(mini_path, tier):
    with fastffi.dlopen(mini_path) as lib:
        fail = lib.function("mini_fail_errno", "i32", ["i32"], tier=tier)
        fastffi.set_errno(0)
        assert fail(errno.EPERM) == -1
        assert fastffi.get_errno() == 0


def test_errno_copy_is_thread_local(mini_path, tier):
    with fastffi.dlopen(mini_path) as lib:
        fail = lib.function("mini_fail_errno", "i32", ["i32"], use_errno=True, tier=tier)
        fastffi.set_errno(0)
        assert fail(errno.EIO) == -1
        seen = {}

        def other():
            fastffi.set_errno(0)
            fail(errno.ENOSPC)
            seen["other"] = fastffi.get_errno()

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert seen["other"] == errno.ENOSPC
        assert fastffi.get_errno() == errno.EIO
