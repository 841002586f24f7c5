"""C source for generated signatures: type declarations, the checksum functions, and the layout
program whose output is the offset oracle.

Each function folds every value leaf of argument ``i``, in order, into that argument's checksum
``g = M(g, leaf)`` (starting from ``arg_seed(sig, i)``, so position matters), stores it in
``diff_args[i]`` (so a report can name the arguments that arrived wrong), folds the argument
checksums in order into ``h = M(h, g)`` (starting from the signature's seed), stores ``h`` in the
global ``diff_hash`` (so even a void function's argument passing is observable), records the
stack alignment at the call (``diff_cfa_mod16``: the canonical frame address is the caller's stack
pointer at the call, which both ABIs want 16-byte aligned), scribbles over its by-value aggregate
parameters (a tier that passes the caller's object instead of a copy is caught: the Python object
would change), and returns a value derived from ``h``:

* integers: ``(T)h`` -- narrow returns leave garbage above their width in the return register, the
  tiers must truncate; ``_Bool``: ``h & 1``; pointers: ``(void *)h``;
* floats: the low bits of ``h`` as a bit pattern, made finite (``MF``/``MD``), so every sign,
  exponent and denormal shows up and comparison is bitwise;
* aggregates: value leaf ``k`` (1-based) gets ``conv(M(h, k))``; padding and inactive union bytes
  are left indeterminate.

oracle.py computes the same quantities in Python from the arguments' Python values.
"""
from __future__ import annotations

from .signatures import FLOATS, INT128S, INTS, WIDE, Agg, Arr, Signature, all_leaves, c_type, value_leaves

PRELUDE = r"""#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
"""

HELPERS = r"""
uint64_t diff_hash;       /* the checksum of the last call */
uint64_t diff_args[24];   /* each argument's own checksum in the last call */
uint64_t diff_cfa_mod16;  /* the caller's stack pointer at the call, mod 16 (the ABIs want 0) */

/* Not inlined, so the by-value parameter really is written in place. */
__attribute__((noinline)) void diff_scribble(void *p, size_t n)
{
    memset(p, 0xA5, n);
    __asm__ volatile("" : : "r"(p) : "memory");
}

static inline uint64_t M(uint64_t h, uint64_t v)
{
    h ^= v;
    h *= 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    return h;
}
static inline uint64_t BF(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline uint64_t BD(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
static inline float MF(uint64_t x)
{
    uint32_t u = (uint32_t)x;
    if (((u >> 23) & 0xffu) == 0xffu) u ^= 0x40000000u;
    float f; memcpy(&f, &u, 4); return f;
}
static inline double MD(uint64_t x)
{
    if (((x >> 52) & 0x7ffu) == 0x7ffu) x ^= 1ull << 62;
    double d; memcpy(&d, &x, 8); return d;
}
/* issue 16: complex parts folded by their bits; a long double by the bytes C reads of it
 * (x87: 8 of significand and 2 of sign/exponent; binary128: all 16). */
static inline uint64_t BCF(float _Complex z) { return BF(__real__ z) | BF(__imag__ z) << 32; }
static inline uint64_t BCD(double _Complex z) { return M(BD(__real__ z), BD(__imag__ z)); }
static inline uint64_t BL(long double x)
{
    uint64_t lo, hi = 0;
    memcpy(&lo, &x, 8);
    memcpy(&hi, (char *)&x + 8, __LDBL_MANT_DIG__ == 64 ? 2 : 8);
    return M(lo, hi);
}
static inline long double ML(uint64_t x) { return (long double)MD(x) * (1.0L + 0x1p-60L); }
"""

MIX_CONSTANT = 0x9E3779B97F4A7C15


def field_decl(name: str, t) -> str:
    if isinstance(t, Arr):
        return f"{c_type(t.elem)} {name}[{t.n}];"
    return f"{c_type(t)} {name};"


def declaration(a: Agg) -> str:
    lines = []
    if a.pack is not None:
        lines.append(f"#pragma pack(push, {a.pack})")
    lines.append(f"{a.tag} {{")
    for fname, ft in a.fields:
        lines.append(f"    {field_decl(fname, ft)}")
    lines.append("};")
    if a.pack is not None:
        lines.append("#pragma pack(pop)")
    return "\n".join(lines)


def declarations(sig: Signature) -> str:
    return "\n".join(declaration(a) for a in sig.aggregates())


def mix(h: int, v: int) -> int:
    """csource.HELPERS' M() in Python."""
    h = ((h ^ v) * MIX_CONSTANT) & 0xFFFFFFFFFFFFFFFF
    return h ^ (h >> 29)


def arg_seed(sig: Signature, i: int) -> int:
    """The initial value of argument ``i``'s own checksum."""
    return mix(sig.hash_seed, i + 1)


def fold_expr(scalar: str, expr: str) -> str:
    if scalar in WIDE:
        return {"c64": "BCF", "c128": "BCD", "longdouble": "BL"}[scalar] + f"({expr})"
    if scalar in FLOATS:
        return f"BF({expr})" if scalar == "f32" else f"BD({expr})"
    if scalar == "pointer":
        return f"(uint64_t)(uintptr_t)({expr})"
    if scalar in INTS and scalar[0] == "i":
        return f"(uint64_t)(int64_t)({expr})"
    return f"(uint64_t)({expr})"  # unsigned, _Bool (0 or 1)


#: issue 16: a 16-byte integer's high half is derived from its low half with this seed.
INT128_HIGH_SEED = 0x3C6EF372FE94F82B


def fold_exprs(scalar: str, expr: str) -> list:
    """The uint64 expressions one leaf folds as: two (low, high) for a 16-byte integer."""
    if scalar in INT128S:
        return [f"(uint64_t)({expr})", f"(uint64_t)((unsigned __int128)({expr}) >> 64)"]
    return [fold_expr(scalar, expr)]


def make_expr(scalar: str, x: str) -> str:
    """A value of ``scalar`` derived from the uint64 expression ``x``."""
    if scalar in INT128S:
        return (f"({c_type(scalar)})(((unsigned __int128)M({x}, {INT128_HIGH_SEED:#x}ull) << 64) "
                f"| (uint64_t)({x}))")
    if scalar == "f32":
        return f"MF({x})"
    if scalar == "f64":
        return f"MD({x})"
    if scalar == "c64":   # __builtin_complex: exactly these parts (x + y*I may change a zero's sign)
        return f"__builtin_complex(MF({x}), MF(({x}) >> 32))"
    if scalar == "c128":
        return f"__builtin_complex(MD({x}), MD(M({x}, 1)))"
    if scalar == "longdouble":
        return f"ML({x})"
    if scalar == "bool":
        return f"(_Bool)(({x}) & 1)"
    if scalar == "pointer":
        return f"(void *)(uintptr_t)({x})"
    return f"({c_type(scalar)})({x})"


def prototype(sig: Signature) -> str:
    fixed = sig.args if sig.nfixed is None else sig.args[:sig.nfixed]
    params = ", ".join(f"{c_type(t)} a{i}" for i, t in enumerate(fixed)) or "void"
    return f"{c_type(sig.ret)} {sig.name}({params}{', ...' if sig.nfixed is not None else ''})"


#: What va_arg reads for a variadic argument of each narrow type (C11 6.5.2.2p6: promoted).
_PROMOTED = {"bool": "int", "i8": "int", "i16": "int", "u8": "int", "u16": "int", "f32": "double"}


def variadic_locals(sig: Signature) -> list:
    """A variadic function's extra arguments read into the locals a{nfixed}... by va_arg, by
    their promoted types and converted back, so the rest of the body is the fixed one's."""
    if sig.nfixed is None:
        return []
    lines = ["    va_list ap;", f"    va_start(ap, a{sig.nfixed - 1});"]
    for i in range(sig.nfixed, len(sig.args)):
        t = sig.args[i]
        promoted = _PROMOTED.get(t) if isinstance(t, str) else None
        read = f"va_arg(ap, {promoted or c_type(t)})"
        lines.append(f"    {c_type(t)} a{i} = {f'({c_type(t)})' if promoted else ''}{read};")
    lines.append("    va_end(ap);")
    return lines


def function(sig: Signature) -> str:
    body = [prototype(sig), "{", *variadic_locals(sig), f"    uint64_t h = {sig.hash_seed:#x}ull, g;"]
    for i, t in enumerate(sig.args):
        body.append(f"    g = {arg_seed(sig, i):#x}ull;")
        for path, scalar in value_leaves(t):
            for e in fold_exprs(scalar, f'a{i}{path}'):
                body.append(f"    g = M(g, {e});")
        body.append(f"    diff_args[{i}] = g;")
        body.append("    h = M(h, g);")
    body.append("    diff_hash = h;")
    body.append("    diff_cfa_mod16 = (uint64_t)(uintptr_t)__builtin_dwarf_cfa() & 15;")
    for i, t in enumerate(sig.args):
        if isinstance(t, Agg):
            body.append(f"    diff_scribble(&a{i}, sizeof a{i});")
    ret = sig.ret
    if isinstance(ret, Agg):
        body.append(f"    {ret.tag} r;")
        for k, (path, scalar) in enumerate(value_leaves(ret), 1):
            body.append(f"    r{path} = {make_expr(scalar, f'M(h, {k})')};")
        body.append("    return r;")
    elif ret != "void":
        body.append(f"    return {make_expr(ret, 'h')};")
    body.append("}")
    return "\n".join(body)


def signature_text(sig: Signature) -> str:
    """The C text of one signature: its types and its function (for reports)."""
    decls = declarations(sig)
    return (decls + "\n" if decls else "") + function(sig)


def header(sigs) -> str:
    parts = [PRELUDE]
    for sig in sigs:
        d = declarations(sig)
        if d:
            parts.append(d)
    return "\n".join(parts) + "\n"


def library_source(sigs, header_name: str) -> str:
    parts = [f'#include "{header_name}"', HELPERS]
    parts.extend(function(sig) + "\n" for sig in sigs)
    return "\n".join(parts)


def layout_entries(a: Agg) -> list:
    """The offsetof/sizeof expressions the layout program prints for ``a``, in the order
    oracle.parse_layout reads them: size, align, each top-level field's offset, each value leaf's
    offset, each leaf's offset (every union member)."""
    exprs = [f"sizeof({a.tag})", f"_Alignof({a.tag})"]
    exprs += [f"offsetof({a.tag}, {fname})" for fname, _ in a.fields]
    exprs += [f"offsetof({a.tag}, {path[1:]})" for path, _ in value_leaves(a)]
    exprs += [f"offsetof({a.tag}, {path[1:]})" for path, _ in all_leaves(a)]
    return exprs


def layout_program(sigs, header_name: str) -> str:
    """Prints one number per line: every entry of layout_entries for every aggregate of every
    signature, in order."""
    exprs = []
    for sig in sigs:
        for a in sig.aggregates():
            exprs.extend(layout_entries(a))
    table = ",\n".join(f"    (unsigned long long)({e})" for e in exprs)
    return (f'#include "{header_name}"\n#include <stdio.h>\n\n'
            f"static const unsigned long long table[] = {{\n{table}{',' if exprs else '0'}\n}};\n\n"
            "int main(void)\n{\n"
            f"    for (size_t i = 0; i < {len(exprs)}; i++) printf(\"%llu\\n\", table[i]);\n"
            "    return 0;\n}\n")


__all__ = ["PRELUDE", "HELPERS", "MIX_CONSTANT", "declaration", "declarations", "function", "prototype",
           "signature_text", "header", "library_source", "layout_program", "layout_entries"]
