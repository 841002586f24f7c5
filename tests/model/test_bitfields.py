"""Bit-field layout against GCC: a generated zoo of structs and unions (signed
and unsigned, zero-width, unnamed, straddling units, packed, #pragma pack,
mixed with ordinary members), declared once as C text that both the
compiler and fastffi.cdef read.  The compiler prints sizeof, _Alignof and the
bytes after each field is set to all ones; fastffi must give the same, and
read back the values C wrote."""
import random
import subprocess

import pytest

import fastffi

TYPES = [("_Bool", 1, False), ("signed char", 8, True), ("unsigned char", 8, False), ("short", 16, True),
         ("unsigned short", 16, False), ("int", 32, True), ("unsigned int", 32, False), ("long", 64, True),
         ("unsigned long", 64, False), ("long long", 64, True)]
PLAIN = ["char", "short", "int", "double", "long"]


def _zoo(seed: int, n: int):
    rnd = random.Random(seed)
    decls = []
    for k in range(n):
        kind = "union" if rnd.random() < 0.15 else "struct"
        packing = rnd.choice([None, None, None, "attr", 1, 2, 4])
        members = []
        for i in range(rnd.randint(1, 7)):
            r = rnd.random()
            if r < 0.15 and kind == "struct":
                members.append((f"p{i}", rnd.choice(PLAIN), None))
                continue
            ctype, width, signed = rnd.choice(TYPES)
            if r < 0.22 and members:
                members.append((None, ctype, 0))
                continue
            bits = rnd.randint(1, width)
            name = None if r < 0.27 else f"f{i}"
            members.append((name, ctype, bits))
        if not any(m[0] for m in members):
            members.append(("last", "int", 3))
        decls.append((f"z{seed}_{k}", kind, packing, members))
    return decls


def _written(kind, members):
    named = [m for m in members if m[0] and m[2]]
    return named[-1:] if kind == "union" else named


def _c_text(decls) -> str:
    out = []
    for name, kind, packing, members in decls:
        body = " ".join(f"{ctype} {mname or ''}{'' if bits is None else f':{bits}'};"
                        for mname, ctype, bits in members)
        attr = " __attribute__((packed))" if packing == "attr" else ""
        if isinstance(packing, int):
            out.append(f"#pragma pack(push, {packing})")
        out.append(f"{kind}{attr} {name} {{ {body} }};")
        if isinstance(packing, int):
            out.append("#pragma pack(pop)")
    return "\n".join(out) + "\n"


def _compile_and_run(tmp_path, text, decls):
    lines = []
    for name, kind, _, members in decls:
        t = f"{kind} {name}"
        lines.append(f'printf("%zu %zu\\n", sizeof({t}), _Alignof({t}));')
        for mname, ctype, bits in members:
            if mname is None or bits is None:
                continue
            lines.append(f"{{ {t} v; memset(&v, 0, sizeof v); v.{mname} = ({ctype})-1; dump(&v, sizeof v); }}")
        # every field at once (a union's last one), with values from a pattern: what fastffi must read back
        sets = " ".join(f"v.{m}=(({c})0x5a5a5a5a5a5a5a5aULL);" for m, c, b in _written(kind, members))
        lines.append(f"{{ {t} v; memset(&v, 0, sizeof v); {sets} dump(&v, sizeof v); }}")
    src = ("#include <stdio.h>\n#include <string.h>\n" + text +
           "static void dump(const void *p, size_t n) { const unsigned char *b = p; "
           "for (size_t i = 0; i < n; i++) printf(\"%02x\", b[i]); printf(\"\\n\"); }\n"
           "int main(void) {\n" + "\n".join(lines) + "\nreturn 0; }\n")
    (tmp_path / "zoo.c").write_text(src)
    subprocess.run(["cc", "-w", "-o", str(tmp_path / "zoo"), str(tmp_path / "zoo.c")], check=True)
    return iter(subprocess.run([str(tmp_path / "zoo")], check=True, capture_output=True, text=True).stdout.split())


@pytest.mark.parametrize("seed", range(6))
def test_bitfield_zoo_matches_gcc(seed, tmp_path):
    decls = _zoo(seed, 40)
    text = _c_text(decls)
    h = fastffi.cdef(text)
    out = _compile_and_run(tmp_path, text, decls)
    for name, kind, _, members in decls:
        cls = h.type(f"{kind} {name}")
        where = f"{_c_text([(name, kind, _, members)])}"
        assert (fastffi.sizeof(cls), fastffi.alignof(cls)) == (int(next(out)), int(next(out))), where
        for mname, ctype, bits in members:
            if mname is None or bits is None:
                continue
            v = cls()
            setattr(v, mname, True if ctype == "_Bool" else -1 if dict((t, s) for t, _, s in TYPES)[ctype]
                    else (1 << bits) - 1)
            assert bytes(v).hex() == next(out), (where, mname)
        written = bytes.fromhex(next(out))
        v = cls()
        fastffi.write_bytes(fastffi.address_of(v), written)
        for mname, ctype, bits in _written(kind, members):
            pattern = 0x5a5a5a5a5a5a5a5a
            width = dict((t, w) for t, w, _ in TYPES)[ctype]
            signed = dict((t, s) for t, _, s in TYPES)[ctype]
            value = bool(pattern) if ctype == "_Bool" else (pattern & ((1 << width) - 1)) & ((1 << bits) - 1)
            if signed and value >> (bits - 1):
                value -= 1 << bits
            assert getattr(v, mname) == value, (where, mname)


# Both ABIs' rule for unnamed bit-fields, whatever the host: the structs are
# ones the zoo found GCC lays out differently on the two (x86-64 and AArch64
# figures printed by GCC 12 on each).
_ANON = [
    ("struct { unsigned long :22; unsigned short f1:15; }",
     [(None, "u64", None, 22), ("f1", "u16", None, 15)], None, (6, 2), (8, 8)),
    ("struct { char p0; short p1; short p2; _Bool f3:1; long :10; long long :30; }",
     [("p0", "i8", None), ("p1", "i16", None), ("p2", "i16", None), ("f3", "bool", None, 1),
      (None, "i64", None, 10), (None, "i64", None, 30)], None, (12, 2), (16, 8)),
    # a zero-width member counts in full on AArch64 even under #pragma pack(4)
    ("#pragma pack(4) struct { int f0:5; long long :0; unsigned char :8; int p3; long f4:14; "
     "unsigned short f5:4; unsigned long f6:27; }",
     [("f0", "i32", None, 5), (None, "i64", None, 0), (None, "u8", None, 8), ("p3", "i32", None),
      ("f4", "i64", None, 14), ("f5", "u16", None, 4), ("f6", "u64", None, 27)], 4, (24, 4), (24, 8)),
]


@pytest.mark.parametrize("text, members, pack, sysv, aapcs64", _ANON, ids=[t for t, *_ in _ANON])
def test_unnamed_bit_fields_align_the_struct_only_on_aapcs64(text, members, pack, sysv, aapcs64):
    from fastffi.model.layout import compute_layout
    from fastffi.model.scalars import SCALARS
    typed = [(m[0], SCALARS[m[1]], *m[2:]) for m in members]
    for rule, expected in ((False, sysv), (True, aapcs64)):
        layout = compute_layout("S", typed, pack=pack, anon_bitfields_align=rule)
        assert (layout.size, layout.align) == expected, (text, rule)


def test_struct_spec_bit_fields():
    S = fastffi.struct("S", [("flags", "u32", 3), ("mode", "i32", 4), ("ok", "bool", 1), ("tail", "u8")])
    assert (fastffi.sizeof(S), fastffi.alignof(S)) == (4, 4)
    s = S(flags=7, mode=-8, ok=True, tail=200)
    assert (s.flags, s.mode, s.ok, s.tail) == (7, -8, True, 200)
    with pytest.raises(OverflowError, match=r"^S\.flags: 8 does not fit u32:3$"):
        s.flags = 8
    with pytest.raises(OverflowError, match=r"^S\.mode: 8 does not fit i32:4$"):
        s.mode = 8
    with pytest.raises(TypeError, match=r"^S\.flags: expected int, got str$"):
        s.flags = "1"
    assert (s.flags, s.mode) == (7, -8)


@pytest.mark.parametrize("spec, exc, message", [
    (("x", "f64", 3), TypeError, "bit-field 'x' needs an integer type, got <fastffi type f64>"),
    (("x", "u8", 9), ValueError, "bit-field 'x': width 9 is not between 1 and 8 (the width of u8)"),
    (("x", "u8", 0), ValueError, "bit-field 'x': width 0 is not between 1 and 8 (the width of u8)"),
    (("x", "u32", "3"), TypeError, "bit-field 'x': the width is an int, got '3'"),
])
def test_struct_spec_bad_bit_fields(spec, exc, message):
    with pytest.raises(exc) as e:
        fastffi.struct("B", [spec])
    assert str(e.value) == message


BY_VALUE_C = r"""
struct flags { unsigned a:3; int b:5; unsigned long long big:40; unsigned char c:4; };
unsigned long long flags_sum(struct flags f) { return f.a * 1000000000000ULL + (f.b + 16) * 10000000000ULL
                                                       + (unsigned long long)f.big * 10 + f.c; }
struct flags flags_make(unsigned a, int b, unsigned long long big, unsigned c) {
    struct flags f = {a, b, big, c}; return f; }
"""


@pytest.fixture(scope="module")
def flags_lib(tmp_path_factory):
    from conftest import compile_shared

    d = tmp_path_factory.mktemp("bitfields")
    (d / "flags.c").write_text(BY_VALUE_C)
    h = fastffi.cdef(BY_VALUE_C.split("unsigned long long flags_sum")[0]
                     + "unsigned long long flags_sum(struct flags f);\n"
                     + "struct flags flags_make(unsigned a, int b, unsigned long long big, unsigned c);\n")
    with fastffi.dlopen(compile_shared([d / "flags.c"], d, "flags"), h) as lib:
        yield lib


def test_bitfield_structs_pass_by_value_on_the_plan_tier(flags_lib):
    if "plan" not in fastffi.available_tiers():
        pytest.skip("no plan tier on this platform")
    h = flags_lib.header
    sig_sum, sig_make = h.function("flags_sum"), h.function("flags_make")
    addr_sum, addr_make = flags_lib.symbol("flags_sum"), flags_lib.symbol("flags_make")
    total = fastffi.function(addr_sum, sig_sum.restype, list(sig_sum.argtypes), name="flags_sum", tier="plan")
    make = fastffi.function(addr_make, sig_make.restype, list(sig_make.argtypes), name="flags_make", tier="plan")
    v = make(5, -9, 2**40 - 1, 11)
    assert (v.a, v.b, v.big, v.c) == (5, -9, 2**40 - 1, 11)
    assert total(v) == 5 * 10**12 + 7 * 10**10 + (2**40 - 1) * 10 + 11
    assert flags_lib.flags_sum(v) == total(v)   # the header binding picks a tier that takes it


def test_libffi_refuses_bitfield_structs_and_says_why(flags_lib):
    sig = flags_lib.header.function("flags_sum")
    with pytest.raises(fastffi.SignatureError, match=r"libffi cannot describe bit-fields by value \(flags\)"):
        fastffi.function(flags_lib.symbol("flags_sum"), sig.restype, list(sig.argtypes), tier="libffi")
