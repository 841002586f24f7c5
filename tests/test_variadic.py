"""Variadic functions on every tier: declarations with ``...``, calls typed by
value (C's default argument promotions), ``fn.variadic(*types)``, the ABI's
variadic convention (x86-64 %al), against real libc and the fixture library
(tests/fixture/variadic.c, variadic_al.S)."""
import array
import os
import stat
import struct

import pytest

import fastffi
from fastffi.errors import SignatureError

from conftest import struct_tier

M = (1 << 64) - 1

# libc's snprintf can take the JIT's register-only shapes only up to 8 arguments.
SNPRINTF = "int snprintf(char *s, size_t n, const char *fmt, ...)"



def fmt(libc, tier, fmt_, *args, size=256):
    sn = libc.function(SNPRINTF, tier=tier)
    buf = bytearray(size)
    n = sn(buf, size, fmt_, *args)
    return bytes(buf[:n]).decode()


def test_declaration_and_list_form(libc, tier):
    sn = libc.function(SNPRINTF, tier=tier)
    assert str(sn.explain()).splitlines()[0] == "i32 snprintf(string, u64, string, ...)"
    assert "variadic: 3 fixed arguments" in sn.explain()
    printf_like = libc.function("snprintf", "i32", ["pointer", "size_t", "string", ...], tier=tier)
    buf = bytearray(16)
    assert printf_like(buf, 16, b"%d|%s", 42, "ok") == 5
    assert bytes(buf[:5]) == b"42|ok"
    assert sn.tier == tier


def test_snprintf_every_conversion(libc, tier):
    if tier == "jit":
        # 8 register arguments at most on the JIT: the full format on the others.
        assert fmt(libc, tier, "%d %ld %s %f %%", -5, 2 ** 40, "hi", 1.5) == "-5 1099511627776 hi 1.500000 %"
        return
    assert fmt(libc, tier, "%d %ld %lld %u %x %zu %c %s %p %f %e %g %%", -5, 2 ** 40, -2 ** 62, 4294967295,
               255, 7, 65, "hi", None, 1.5, 2.5, 0.25) == \
        "-5 1099511627776 -4611686018427387904 4294967295 ff 7 A hi (nil) 1.500000 2.500000e+00 0.25 %"
    # u64 above 2**63-1, bool as int, bytes as const char *, a buffer's address.
    assert fmt(libc, tier, "%llu %d %d %s", 2 ** 64 - 1, True, False, b"by") == "18446744073709551615 1 0 by"
    box = fastffi.new("i32", 7)
    assert fmt(libc, tier, "%p", box) == "0x%x" % fastffi.address_of(box)


def test_snprintf_stack_arguments_and_mixed_orders(libc, tier):
    if tier == "jit":
        # An exact tier request holds for the Functions a declaration dispatches to.
        with pytest.raises(SignatureError) as e:
            fmt(libc, tier, "%f " * 10, *[0.5] * 10)
        assert str(e.value) == "snprintf: tier 'jit' refused: 13 arguments (the JIT takes at most 8)"
        return
    floats = [i + 0.5 for i in range(10)]
    ints = list(range(-3, 9))
    assert fmt(libc, tier, "%f " * 10 + "%d " * 12, *floats, *ints, size=512) == \
        "".join("%f " % f for f in floats) + "".join("%d " % i for i in ints)
    mixed = [x for pair in zip(ints[:10], floats) for x in pair]
    assert fmt(libc, tier, "%d %g " * 10, *mixed, size=512) == "".join("%d %g " % p for p in zip(ints, floats))


def test_jit_refusal_falls_back(libc):
    sn = libc.function(SNPRINTF)
    buf = bytearray(128)
    assert sn(buf, 128, b"%d %d %d %d %d %d", 1, 2, 3, 4, 5, 6) == 11
    assert bytes(buf[:11]) == b"1 2 3 4 5 6"
    full = sn.variadic("int", "int", "int", "int", "int", "int")
    assert full.tier == fastffi.available_tiers()[min(1, len(fastffi.available_tiers()) - 1)]


def test_sscanf_into_boxes_and_buffers(libc, tier):
    sscanf = libc.function("int sscanf(const char *s, const char *fmt, ...)", tier=tier)
    n, d, word = fastffi.new("i32"), fastffi.new("f64"), bytearray(16)
    assert sscanf(b"12 2.5 hello", b"%d %lf %15s", n, d, word) == 3
    assert (n.value, d.value, bytes(word[:6])) == (12, 2.5, b"hello\0")


def test_read_only_buffers_need_an_explicit_const_type(libc, tier):
    # An inferred buffer is a void *, which sscanf writes through: a read-only one is refused
    # with the remedy that exists here (no parameter to declare const), and the explicit
    # 'const void *' passes it for a callee that only reads.
    sscanf = libc.function("int sscanf(const char *s, const char *fmt, ...)", tier=tier)
    with pytest.raises(TypeError) as info:
        sscanf(b"hello", b"%5s", memoryview(b"......"))
    assert str(info.value) == ("sscanf() argument 3: memoryview is read-only and C may write through a variadic "
                               "pointer; pass a writable buffer, or give the types, this one 'const void *': "
                               "sscanf.variadic(type, ...)")
    snprintf = libc.function("int snprintf(char *s, size_t n, const char *fmt, ...)", tier=tier)
    out = bytearray(16)
    assert snprintf.variadic("const void *")(out, 16, b"%s", memoryview(b"abc\0")) == 3
    assert bytes(out[:4]) == b"abc\0"
    word = memoryview(bytearray(8))
    assert sscanf(b"hello", b"%5s", word) == 1
    assert bytes(word[:6]) == b"hello\0"


def test_open_mode_arrives_and_fcntl(libc, tier, tmp_path):
    opn = libc.function("int open(const char *path, int flags, ...)", tier=tier)
    fcntl = libc.function("int fcntl(int fd, int cmd, ...)", tier=tier)
    path = tmp_path / "created"
    old = os.umask(0)
    try:
        fd = opn(os.fsencode(path), os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o640)
    finally:
        os.umask(old)
    assert fd >= 0
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
        import fcntl as pyfcntl
        assert fcntl(fd, pyfcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY
        assert fcntl(fd, pyfcntl.F_SETFD, pyfcntl.FD_CLOEXEC) == 0
        assert fcntl(fd, pyfcntl.F_GETFD) == pyfcntl.FD_CLOEXEC
    finally:
        os.close(fd)


# ---- va_hash: every type read by va_arg ----------------------------------------------------

def mix(h, v):
    h = ((h ^ (v & M)) * 0x100000001b3) & M
    return h ^ (h >> 29)


def dbits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def expected(items):
    h = 0xcbf29ce484222325
    for letter, v in items:
        if letter in "ilUzup":
            h = mix(h, v)
        elif letter == "d":
            h = mix(h, dbits(v))
        elif letter == "s":
            for c in v:
                h = mix(h, c)
        elif letter == "P":
            h = mix(mix(h, v[0]), dbits(v[1]))
        elif letter == "B":
            for x in v:
                h = mix(h, x)
        elif letter == "F":
            h = mix(mix(h, dbits(v[0])), dbits(v[1]))
    return h


Pair = fastffi.struct("va_pair", [("a", "i32"), ("b", "f64")])
Big = fastffi.struct("va_big", [("x", ("i64", 3))])
Floats = fastffi.struct("va_floats", [("a", "f32"), ("b", "f32")])

# (letter va_hash reads, type given to fn.variadic, Python value, value hashed)
SCALARS = [
    ("i", "int", -7, -7 & M), ("i", "i8", -128, -128 & M), ("i", "i16", -32768, -32768 & M),
    ("i", "u8", 255, 255), ("i", "u16", 65535, 65535), ("i", "bool", True, 1),
    ("u", "unsigned", 4294967295, 4294967295), ("l", "long long", -2 ** 63, 2 ** 63),
    ("U", "u64", 2 ** 64 - 1, 2 ** 64 - 1), ("z", "size_t", 2 ** 40, 2 ** 40),
    ("d", "double", -0.1, -0.1), ("d", "f32", 0.1, 0.1),   # f32 is passed as double: the value is not rounded
    ("s", "const char *", b"xyz", b"xyz"),
]


def test_va_hash_every_scalar_type(lib, tier):
    va_hash = lib.function("uint64_t va_hash(const char *types, ...)", tier=tier)
    for letter, ctype, value, hashed in SCALARS:
        fn = va_hash.variadic(ctype)
        assert fn(letter.encode(), value) == expected([(letter, hashed)]), ctype
    # Seven at once (the JIT's register limit), mixed integer and floating.
    chosen = SCALARS[:3] + SCALARS[10:12] + SCALARS[6:8]
    fn = va_hash.variadic(*[c for _, c, _, _ in chosen])
    assert fn("".join(x[0] for x in chosen), *[x[2] for x in chosen]) == \
        expected([(x[0], x[3]) for x in chosen])


def test_va_hash_many_and_structs_by_value(lib, tier):
    t = struct_tier(tier)
    va_hash = lib.function("uint64_t va_hash(const char *types, ...)", tier=t)
    p, b, f = Pair(a=-3, b=2.25), Big(x=[1, -2, 3]), Floats(a=1.5, b=-0.5)
    items = [("P", "va_pair", p, (-3 & M, 2.25)), ("i", "int", 5, 5), ("B", "va_big", b, (1, -2 & M, 3)),
             ("d", "double", 0.5, 0.5), ("F", "va_floats", f, (1.5, -0.5))]
    items += [("l", "i64", i * 1000003, i * 1000003) for i in range(8)]
    items += [("d", "f64", i / 3, i / 3) for i in range(9)]
    fn = va_hash.variadic(*[Pair if c == "va_pair" else Big if c == "va_big" else Floats if c == "va_floats" else c
                            for _, c, _, _ in items])
    assert fn.tier == t
    assert fn("".join(x[0] for x in items), *[x[2] for x in items]) == expected([(x[0], x[3]) for x in items])
    # Inferred: the same values without structs.
    plain = items[5:]
    assert va_hash("".join(x[0] for x in plain), *[x[2] for x in plain]) == expected([(x[0], x[3]) for x in plain])


def test_va_hash_numpy_scalars(lib, tier):
    np = pytest.importorskip("numpy")
    va_hash = lib.function("uint64_t va_hash(const char *types, ...)", tier=tier)
    assert va_hash(b"iidlU", np.int8(-5), np.uint16(65535), np.float32(0.5), np.int64(-2), np.uint64(2 ** 64 - 1)) \
        == expected([("i", -5 & M), ("i", 65535), ("d", 0.5), ("l", -2 & M), ("U", 2 ** 64 - 1)])
    # numpy's bool is converted as a bool and passed as an int (a fuzz finding: i32 refused it).
    assert va_hash(b"ii", np.bool_(True), np.False_) == expected([("i", 1), ("i", 0)])


def test_variadic_is_cached_and_bounded(lib, monkeypatch):
    va_sum = lib.function("long va_sum(int n, ...)")
    assert va_sum.variadic("int", "int") is va_sum.variadic("int", "int")
    assert va_sum(3, 1, 2, 3) == 6
    assert va_sum(0) == 0
    for n in range(20):   # more type tuples than the C cache holds
        assert va_sum(n, *range(n)) == sum(range(n))
    # The per-declaration caches are bounded: past the limit they start again, and calls stay right.
    from fastffi.tiers import variadic
    monkeypatch.setattr(variadic, "CACHE_LIMIT", 4)
    va_sum = lib.function("long va_sum(int n, ...)")
    first = va_sum.variadic("int")
    assert va_sum.variadic("int") is first
    for k in range(2, 6):
        assert va_sum.variadic(*["int"] * k)(k, *range(k)) == sum(range(k))
    assert va_sum.variadic("int") is not first
    assert va_sum.variadic("int")(1, 7) == 7


def test_al_counts_vector_registers(lib, tier):
    va_al = lib.function("int va_al(int, ...)", tier=tier)
    x86 = fastffi._core.PLAN_ABI == "sysv-x86_64"
    assert va_al(0) == (0 if x86 else -1)
    assert va_al(0, 1.0, 2, 3.0) == (2 if x86 else -1)
    assert va_al.variadic("f32", "double", "double", "int")(0, 1.0, 2.0, 3.0, 4) == (3 if x86 else -1)
    if tier != "jit":
        assert va_al(0, *[float(i) for i in range(10)]) == (8 if x86 else -1)


# ---- errors, exact, every tier ----------------------------------------------------------------

def test_errors(lib, libc, tier):
    sn = libc.function(SNPRINTF, tier=tier)
    buf = bytearray(8)
    with pytest.raises(TypeError) as e:
        sn(buf, 8)
    assert str(e.value) == "snprintf() takes at least 3 arguments (2 given)"
    with pytest.raises(TypeError) as e:
        sn(buf, 8, b"%d", [1])
    assert str(e.value) == ("snprintf() argument 4: cannot infer a C type for a variadic argument from list "
                            "(int, float, str, bytes, None, a buffer or a fastffi object; or give the types: "
                            "snprintf.variadic(type, ...))")
    with pytest.raises(OverflowError) as e:
        sn(buf, 8, b"%d", 2 ** 64)
    assert str(e.value) == ("snprintf() argument 4: 18446744073709551616 does not fit a 64-bit integer "
                            "(the widest a variadic int is passed as)")
    with pytest.raises(TypeError) as e:
        sn(buf, 8, b"%d", x=1)
    assert str(e.value) == "snprintf() takes no keyword arguments"
    with pytest.raises(TypeError) as e:
        sn.map([buf], [8], [b""])
    assert str(e.value) == ("snprintf.map(): snprintf() is variadic: give the extra arguments' types, "
                            "snprintf.variadic(type, ...).map(...)")
    # Explicit types are checked as declared: never truncated.
    with pytest.raises(OverflowError):
        sn.variadic("u8")(buf, 8, b"%d", 256)
    with pytest.raises(SignatureError) as e:
        sn.variadic("void")
    assert str(e.value) == "snprintf.variadic() type 1: void has no values"
    # f32 is passed as double (C's promotion): documented, not an error, and not rounded to float.
    assert sn.variadic("f32").argtypes[-1] == "f64"
    with pytest.raises(TypeError) as e:
        lib.function("int va_al(int, int)").variadic("int")
    assert str(e.value) == "va_al() is not a variadic declaration (no '...' in its signature)"


def test_declaration_errors():
    with pytest.raises(SignatureError) as e:
        fastffi.function(1, "i32", [...])
    assert str(e.value) == "fn_0x1: a variadic function needs at least one fixed argument (C11 6.7.6.3)"
    with pytest.raises(SignatureError) as e:
        fastffi.function(1, "i32", ["i32", ..., "i32"])
    assert str(e.value) == "fn_0x1: ... (Ellipsis) must be the last argument type"
    with pytest.raises(SignatureError) as e:
        fastffi.function(1, "int printf(...)")
    assert str(e.value) == ("cannot parse declaration: '...' needs at least one fixed parameter before it "
                            "(C11 6.7.6.3)\nint printf(...);\n           ^")
    sig = fastffi.function(1, "int printf(const char *fmt, ...)").explain().splitlines()[0]
    assert sig == "i32 printf(string, ...)"


def test_variadic_map_on_specialised(lib, tier):
    va_sum = lib.function("long va_sum(int n, ...)", tier=tier)
    two = va_sum.variadic("int", "int")
    i32 = lambda xs: array.array("i", xs)   # noqa: E731
    assert list(two.map(i32([2, 2, 1]), i32([1, 10, 100]), i32([2, 20, 200]))) == [3, 30, 100]
    # fn.map's loops say how many vector registers they fill, as single calls do.
    va_al = lib.function("int va_al(int, ...)", tier=tier)
    al = va_al.variadic("f64", "f64")
    x86 = fastffi._core.PLAN_ABI == "sysv-x86_64"
    assert list(al.map(i32([0, 0]), array.array("d", [1.0, 2.0]), 3.0)) == ([2, 2] if x86 else [-1, -1])


def test_repeated_types_stay_in_c(lib, monkeypatch):
    """A call whose promoted types were seen dispatches in C: Python is asked once per types."""
    from fastffi.tiers import variadic
    asked = []
    real = variadic.Variadic.dispatch
    monkeypatch.setattr(variadic.Variadic, "dispatch", lambda self, fn, extras: asked.append(extras) or
                        real(self, fn, extras))
    va_sum = lib.function("long va_sum(int n, ...)")
    for i in range(5):
        assert va_sum(2, i, 10) == i + 10
    assert va_sum(1, True) == 1
    assert va_sum(1, False) == 0
    assert asked == [(0, 10), (True,)]
    # Types only Python knows (a numpy scalar) ask every time, and are right every time.
    np = pytest.importorskip("numpy")
    assert va_sum(1, np.int16(-4)) == -4 and va_sum(1, np.int16(5)) == 5
    assert len(asked) == 4


def test_explain_shows_the_variadic_part(lib, tier):
    va_sum = lib.function("long va_sum(int n, ...)", tier=tier)
    fn = va_sum.variadic("int", "f32")
    lines = fn.explain().splitlines()
    assert lines[:2] == ["i64 va_sum(i32, ..., i32, f64)", f"tier: {tier}"]
    assert fn.argtypes == ("i32", "i32", "f64") and fn._nfixed_ == 1 and va_sum._nfixed_ == 1


def test_variadic_types_resolve_in_the_functions_namespace(lib):
    va_sum = lib.function("long va_sum(int n, ...)", types={"count_t": "int"})
    assert va_sum.variadic("count_t", "count_t")(2, 5, 6) == 11
    with pytest.raises(SignatureError) as e:
        lib.function("long va_sum(int n, ...)").variadic("count_t")
    assert str(e.value) == "va_sum.variadic() type 1: unknown type 'count_t'"


def test_sqlite3_mprintf_and_db_config(tier):
    """sqlite3's variadic entry points: a formatted string sqlite3 allocated (a CString, freed
    with sqlite3_free) and sqlite3_db_config's (int, int *) variadic pair."""
    with fastffi.dlopen("libsqlite3.so.0") as sq:
        mprintf = sq.function("char *sqlite3_mprintf(const char *fmt, ...)", tier=tier)
        free = sq.function("void sqlite3_free(void *)", tier=tier)
        s = mprintf(b"%d|%lld|%s|%q|%.3f", 5, -2 ** 40, "a", "it's", 0.5)
        assert s == "5|-1099511627776|a|it''s|0.500"
        free(s.address)
        db = fastffi.new("void *")
        assert sq.function("int sqlite3_open(const char *, void **)", tier=tier)(b":memory:", db) == 0
        try:
            config = sq.function("int sqlite3_db_config(void *db, int op, ...)", tier=tier)
            SQLITE_DBCONFIG_ENABLE_TRIGGER = 1003
            out = fastffi.new("i32", -1)
            assert config(db.value, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, out) == 0
            assert out.value == 0
            assert config(db.value, SQLITE_DBCONFIG_ENABLE_TRIGGER, 1, out) == 0
            assert out.value == 1
        finally:
            sq.function("int sqlite3_close(void *)", tier=tier)(db.value)
