"""Namespaces keep tags apart from ordinary names, as C does, and pointer
types carry their pointee and const-ness."""
import gc
import os
import weakref

import pytest

import fastffi
from fastffi.cdecl.spelling import resolve_type
from fastffi.model.namespace import DEFAULT
from fastffi.model.pointers import Opaque


@pytest.fixture
def stat_type():
    # struct stat's size on the platform's glibc; the fields are not needed here
    size = 128 if os.uname().machine == "aarch64" else 144
    cls = fastffi.struct("stat", [("raw", ("u8", size))])
    fastffi.define("stat", cls)
    yield cls
    fastffi.undefine("stat")


def test_a_function_may_share_its_name_with_a_struct_tag(stat_type):
    """After define("stat", Stat), `int stat(const char *, struct stat *)` used to fail:
    "Non-typedef 'stat' previously declared as typedef"."""
    libc = fastffi.dlopen(None)
    stat = libc.function("int stat(const char *path, struct stat *buf)")
    assert stat.argtypes == ("string", "pointer")
    buf = fastffi.new(stat_type)
    assert stat(b"/", buf) == 0
    assert bytes(buf) != bytes(fastffi.sizeof(stat_type))
    # the ordinary name still names the struct where a type stands
    assert libc.function("int fstat(int, stat *)").argtypes == ("i32", "pointer")
    assert resolve_type("stat") is stat_type and resolve_type("struct stat") is stat_type


def test_tags_alone_and_undefining_a_tag():
    cls = fastffi.struct("fastffi_tag_only", [("a", "i32")])
    fastffi.define("struct fastffi_tag_only", cls)
    try:
        assert resolve_type("struct fastffi_tag_only") is cls
        with pytest.raises(fastffi.SignatureError, match="^unknown type 'fastffi_tag_only'$"):
            resolve_type("fastffi_tag_only")
        with pytest.raises(TypeError, match=r"^define\('union fastffi_tag_only'\) expected a union class"):
            fastffi.define("union fastffi_tag_only", cls)
    finally:
        fastffi.undefine("struct fastffi_tag_only")
    with pytest.raises(fastffi.SignatureError):
        resolve_type("struct fastffi_tag_only")


def test_types_mapping_keys_may_be_tags():
    libc = fastffi.dlopen(None)
    cls = fastffi.struct("fastffi_tm", [("raw", ("u8", 56))])
    fn = libc.function("struct fastffi_tm *gmtime_r(const long *t, struct fastffi_tm *out)",
                       types={"struct fastffi_tm": cls})
    assert fn.argtypes == ("pointer", "pointer")
    out = fastffi.new(cls)
    t = fastffi.new("i64", 86400 * 365)
    assert fn(t, out) == fastffi.address_of(out)
    assert fastffi.read(out, "i32", 20) == 71   # tm_year (offset 20): 1971


def test_pointer_types_carry_pointee_and_constness(stat_type):
    p = resolve_type("const struct stat *")
    assert (p.name, p.pointee, p.const) == ("pointer", stat_type, True)
    q = resolve_type("struct stat *")
    assert (q.pointee, q.const) == (stat_type, False)
    assert resolve_type("const struct stat *") is p      # interned: signatures compare by identity
    s = resolve_type("const char *")
    assert (s.name, s.pointee.name, s.const) == ("string", fastffi.model.scalars.scalar("char").name, True)
    assert resolve_type("char *").const is False
    f = resolve_type("FILE *")
    assert f.pointee == Opaque("FILE") and repr(f) == "<fastffi type pointer (FILE *)>"
    pp = resolve_type("const int **")
    assert pp.pointee.pointee.name == "i32" and pp.pointee.pointee is resolve_type("i32")
    assert pp.pointee.const is True and pp.const is False
    libc = fastffi.dlopen(None)
    sig = libc.function("int stat(const char *path, struct stat *buf)")
    assert sig.argtypes == ("string", "pointer") and sig.tier in fastffi.available_tiers()


def test_no_cache_keeps_a_struct_class_alive():
    """A class made, used everywhere fastffi caches something, then dropped,
    is freed: caches key by layout, or live on the class, or hold it weakly."""
    libc = fastffi.dlopen(None)
    refs = []
    for i in range(200):
        cls = fastffi.struct(f"Transient{i}", [("a", "i32"), ("b", "f64")])
        fastffi.new(cls)
        fastffi.array(cls, 2)
        for tier in fastffi.available_tiers():
            fn = libc.function(f"Transient{i} *memset(Transient{i} *p, int c, size_t n)",
                               types={f"Transient{i}": cls}, tier=tier)
            fn.explain()
            by_value = libc.function("abs", cls, [cls], tier=tier) if tier != "jit" else None
            if by_value is not None:
                by_value.explain()
        resolve_type(f"const struct Transient{i} *", {f"Transient{i}": cls})
        refs.append(weakref.ref(cls))
        del cls, fn, by_value
    gc.collect()
    assert sum(r() is not None for r in refs) == 0


def test_namespace_text_caches_are_bounded_and_cleared_on_change():
    libc = fastffi.dlopen(None)
    libc.function("int abs(int)")
    assert "int abs(int)" in DEFAULT.declared
    fastffi.define("fastffi_cache_probe", "i32")
    assert "int abs(int)" not in DEFAULT.declared
    fastffi.undefine("fastffi_cache_probe")
    from fastffi.model import namespace
    for i in range(namespace.CACHE_LIMIT + 10):
        DEFAULT.cache(DEFAULT.resolved, f"probe {i}", None)
    assert len(DEFAULT.resolved) <= namespace.CACHE_LIMIT
    DEFAULT.resolved.clear()


def test_function_pointer_types_carry_their_signature():
    from fastffi.model.pointers import FunctionType
    libc = fastffi.dlopen(None)
    qsort = libc.function("void qsort(void *base, size_t n, size_t size, int (*compar)(const void *, const void *))")
    assert qsort.argtypes == ("pointer", "u64", "u64", "pointer")
    p = resolve_type("const void *")
    sig = fastffi.cdecl.spelling.parse_declaration(
        "void qsort(void *base, size_t n, size_t size, int (*compar)(const void *, const void *))")
    assert sig.argtypes[3].pointee == FunctionType(resolve_type("int"), (p, p), False)
    # a function parameter decays to a pointer to it (C11 6.7.6.3), variadic lists are kept
    decayed = fastffi.cdecl.spelling.parse_declaration("int f(int cb(int, ...), double v[])")
    assert decayed.argtypes[0].pointee == FunctionType(resolve_type("i32"), (resolve_type("i32"),), True)
    assert decayed.argtypes[1].pointee is resolve_type("double")
    assert str(decayed.argtypes[0].pointee) == "i32 (i32, ...)"


def test_types_mapping_keys_must_be_names():
    with pytest.raises(TypeError) as info:
        fastffi.dlopen(None).function("abs", "i32", ["i32"], types={1: "i32"})
    assert str(info.value) == "types= maps names (str) to types, got the key 1"
