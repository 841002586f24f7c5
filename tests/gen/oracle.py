"""Expected values, computed without fastffi.

Layout comes from the C compiler (the table printed by csource.layout_program); argument bytes are
built and return bytes decoded with the ``struct`` module at the compiler's offsets; the checksum is
the C fold (csource.HELPERS) redone in Python.  Nothing here imports fastffi.
"""
from __future__ import annotations

import dataclasses
import math
import random
import struct

import numpy as _numpy

from .csource import INT128_HIGH_SEED, arg_seed, mix
from .signatures import FLOATS, INT128S, SIZES, WIDE, Agg, Signature, all_leaves, value_leaves

MASK64 = (1 << 64) - 1

# issue 16: long double values are numpy.longdouble (numpy is a test dependency); the bytes C
# reads of one: x87's 10 (8 of significand, 2 of sign/exponent) or binary128's 16.
_LD = _numpy.longdouble
_LD_BYTES = 10 if _numpy.finfo(_LD).nmant == 63 else 16


def _ld_bytes(x) -> bytes:
    return _LD(x).tobytes()[:_LD_BYTES]


def _wide_u64(scalar: str, value) -> int:
    """csource's BCF/BCD/BL."""
    if scalar == "c64":
        return f32_bits(value.real) | f32_bits(value.imag) << 32
    if scalar == "c128":
        return mix(f64_bits(value.real), f64_bits(value.imag))
    b = _ld_bytes(value)
    return mix(int.from_bytes(b[:8], "little"), int.from_bytes(b[8:], "little"))

#: struct-module format of each scalar, little-endian (x86-64 and AArch64 Linux both are)
FORMATS = {"i8": "<b", "i16": "<h", "i32": "<i", "i64": "<q", "u8": "<B", "u16": "<H", "u32": "<I",
           "u64": "<Q", "bool": "<B", "f32": "<f", "f64": "<d", "pointer": "<Q"}


# --- the C layout ---------------------------------------------------------------------------------

@dataclasses.dataclass
class AggLayout:
    size: int
    align: int
    field_offsets: list      # per top-level field
    value_offsets: list      # per value leaf (signatures.value_leaves order)
    all_leaves: list         # [(offset, scalar)] every leaf, union members included


def parse_layout(sigs, numbers) -> dict:
    """{id(agg): AggLayout} from the layout program's output (one number per line, in
    csource.layout_entries order)."""
    it = iter(numbers)
    out = {}
    for sig in sigs:
        for a in sig.aggregates():
            size, align = next(it), next(it)
            fields = [next(it) for _ in a.fields]
            vals = [next(it) for _ in value_leaves(a)]
            alls = [(next(it), s) for _, s in all_leaves(a)]
            out[id(a)] = AggLayout(size, align, fields, vals, alls)
    rest = list(it)
    if rest:
        raise RuntimeError(f"layout table has {len(rest)} extra numbers")
    return out


# --- the checksum -----------------------------------------------------------------------------------

def f32_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def f64_bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def leaf_u64(scalar: str, value) -> int:
    """What the C fold turns a leaf into (csource.fold_expr)."""
    if scalar in WIDE:
        return _wide_u64(scalar, value)
    if scalar == "f32":
        return f32_bits(value)
    if scalar == "f64":
        return f64_bits(value)
    if scalar == "pointer":
        return 0 if value is None else value
    return int(value) & MASK64  # sign-extended for signed ints, 0/1 for bool


def leaf_words(scalar: str, value) -> list:
    """The uint64 words one leaf folds as (csource.fold_exprs)."""
    if scalar in INT128S:
        u = int(value) & ((1 << 128) - 1)
        return [u & MASK64, u >> 64]
    return [leaf_u64(scalar, value)]


def make_value(scalar: str, x: int):
    """The value C's make_expr(scalar, x) produces from the uint64 ``x``."""
    if scalar in INT128S:
        v = mix(x, INT128_HIGH_SEED) << 64 | x
        return v - (1 << 128) if scalar == "i128" and v >> 127 else v
    if scalar == "c64":
        return complex(make_value("f32", x), make_value("f32", x >> 32))
    if scalar == "c128":
        return complex(make_value("f64", x), make_value("f64", mix(x, 1)))
    if scalar == "longdouble":
        return _LD(make_value("f64", x)) * (_LD(1) + _LD(2) ** -60)
    if scalar == "f32":
        u = x & 0xFFFFFFFF
        if (u >> 23) & 0xFF == 0xFF:
            u ^= 0x40000000
        return struct.unpack("<f", struct.pack("<I", u))[0]
    if scalar == "f64":
        if (x >> 52) & 0x7FF == 0x7FF:
            x ^= 1 << 62
        return struct.unpack("<d", struct.pack("<Q", x))[0]
    if scalar == "bool":
        return bool(x & 1)
    if scalar == "pointer":
        return x
    bits = SIZES[scalar] * 8
    v = x & ((1 << bits) - 1)
    if scalar[0] == "i" and v >> (bits - 1):
        v -= 1 << bits
    return v


def pack_leaf(scalar: str, value) -> bytes:
    if scalar == "pointer" and value is None:
        value = 0
    return struct.pack(FORMATS[scalar], value)


# --- random argument values ------------------------------------------------------------------------

_F64_SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 5e-324, -5e-324, 2.2250738585072014e-308,
                -2.225073858507201e-308, 1.7976931348623157e308, -1.7976931348623157e308, 1e-300, 3.141592653589793]
_F32_SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1.401298464324817e-45, -1.401298464324817e-45,
                1.1754943508222875e-38, 3.4028234663852886e38, -3.4028234663852886e38, 16777217.0 - 1]


def random_value(rng: random.Random, scalar: str):
    """A value of ``scalar``: extremes (min, max, 0, -1, denormals) often, NaN and inf never."""
    if scalar == "c64":
        return complex(random_value(rng, "f32"), random_value(rng, "f32"))
    if scalar == "c128":
        return complex(random_value(rng, "f64"), random_value(rng, "f64"))
    if scalar == "longdouble":   # a double, or one with bits below a double's precision
        d = random_value(rng, "f64")
        return _LD(d) if rng.random() < 0.3 else _LD(d) * (_LD(1) + _LD(2) ** -61) + _LD(2) ** -70
    r = rng.random()
    if scalar == "bool":
        return r < 0.5
    if scalar == "pointer":
        if r < 0.1:
            return None
        if r < 0.2:
            return 0
        if r < 0.3:
            return MASK64
        if r < 0.4:
            return 1 << 63
        if r < 0.7:
            return rng.getrandbits(47)
        return rng.getrandbits(64)
    if scalar in FLOATS:
        special = _F32_SPECIAL if scalar == "f32" else _F64_SPECIAL
        if r < 0.3:
            return rng.choice(special)
        if r < 0.5:
            return rng.uniform(-1000, 1000) if scalar == "f64" else make_value("f32", f32_bits(rng.uniform(-1e3, 1e3)))
        while True:  # any finite bit pattern, denormals included
            bits = rng.getrandbits(32 if scalar == "f32" else 64)
            v = make_value(scalar, bits)
            if math.isfinite(v):
                return v
    bits = SIZES[scalar] * 8
    signed = scalar[0] == "i"
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if r < 0.4:
        return rng.choice([lo, hi, 0, 1, lo + 1, hi - 1] + ([-1] if signed else [1 << (bits - 1)]))
    if r < 0.55:
        return max(lo, min(hi, rng.randint(-130, 130)))
    return rng.randint(lo, hi)


class IntSub(int):
    """An int subclass: not the exact type, so fast paths must fall back to the general conversion."""

    def __repr__(self) -> str:
        return f"IntSub({int(self)})"


class FloatSub(float):
    def __repr__(self) -> str:
        return f"FloatSub({float(self)!r})"


try:
    import numpy as _np
except ImportError:  # pragma: no cover - numpy is a test dependency
    _np = None

_NP_TYPES = {"i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64", "u8": "uint8", "u16": "uint16",
             "u32": "uint32", "u64": "uint64", "pointer": "uint64", "f32": "float32", "f64": "float64",
             "bool": "bool_"}


def present(rng: random.Random, scalar: str, value):
    if scalar in WIDE:
        return _present_wide(rng, scalar, value)
    return _present(rng, scalar, value)


def _present_wide(rng: random.Random, scalar: str, value):
    """A complex sometimes as numpy's complex of its width; a long double that is a double
    sometimes as that float."""
    if scalar == "longdouble":
        return float(value) if _LD(float(value)) == value and rng.random() < 0.5 else value
    if rng.random() < 0.15:
        return (_np.complex64 if scalar == "c64" else _np.complex128)(value)
    return value


def _present(rng: random.Random, scalar: str, value):
    """The Python object to pass for ``value``: usually the value itself, sometimes an equal value of
    another accepted type (int/float subclass, numpy scalar, an integral float's int, 0/1 for
    bool), so every tier's slower conversion paths are compared too.  The expected values do not
    change."""
    if value is None or rng.random() >= 0.15:
        return value
    choice = rng.randrange(3)
    if choice == 0 and _np is not None and scalar in _NP_TYPES:   # numpy has no 128-bit integers
        return getattr(_np, _NP_TYPES[scalar])(value)
    if scalar == "bool":
        return int(value)
    if scalar in FLOATS:
        if choice == 2 and value == int(value) and abs(value) < 2 ** 53 and not (value == 0 and math.copysign(1, value) < 0):
            return int(value)
        return FloatSub(value)
    return IntSub(value)


@dataclasses.dataclass
class AggValue:
    """The value of an aggregate argument: one value per value leaf, and the full bytes (padding
    and inactive union bytes random) built at the compiler's offsets."""

    agg: Agg
    leaves: list
    data: bytes


def agg_value(rng: random.Random, agg: Agg, lay: AggLayout) -> AggValue:
    leaves = value_leaves(agg)
    values = [random_value(rng, s) for _, s in leaves]
    # Unused bytes are random: nothing may depend on them.
    buf = bytearray(rng.getrandbits(8) for _ in range(lay.size))
    for (path, s), off, v in zip(leaves, lay.value_offsets, values):
        b = pack_leaf(s, v)
        buf[off:off + len(b)] = b
    return AggValue(agg, values, bytes(buf))


def random_args(rng: random.Random, sig: Signature, layouts: dict) -> list:
    """One value per argument: a Python scalar, or an AggValue."""
    return [agg_value(rng, t, layouts[id(t)]) if isinstance(t, Agg) else random_value(rng, t)
            for t in sig.args]


def expected_arg_hashes(sig: Signature, values) -> list:
    """Each argument's own checksum (csource.function's ``g``)."""
    out = []
    for i, (t, v) in enumerate(zip(sig.args, values)):
        g = arg_seed(sig, i)
        if isinstance(t, Agg):
            for (_, s), leaf in zip(value_leaves(t), v.leaves):
                for w in leaf_words(s, leaf):
                    g = mix(g, w)
        else:
            for w in leaf_words(t, v):
                g = mix(g, w)
        out.append(g)
    return out


def expected_hash(sig: Signature, values) -> int:
    h = sig.hash_seed
    for g in expected_arg_hashes(sig, values):
        h = mix(h, g)
    return h


def expected_return(sig: Signature, h: int):
    """Scalar return: the Python value.  Aggregate return: [(offset, leaf bytes)] at the compiler's
    offsets (needs the layout, so see expected_return_bytes)."""
    if sig.ret == "void":
        return None
    assert not isinstance(sig.ret, Agg)
    return make_value(sig.ret, h)


def expected_return_leaves(sig: Signature, h: int, lay: AggLayout) -> list:
    """[(path, scalar, offset, expected bytes)] for an aggregate return."""
    out = []
    for k, ((path, s), off) in enumerate(zip(value_leaves(sig.ret), lay.value_offsets), 1):
        out.append((path, s, off, pack_leaf(s, make_value(s, mix(h, k)))))
    return out


def same_scalar(scalar: str, got, expected) -> bool:
    """Exact equality: bitwise for floats, type-exact for ints/bools."""
    if scalar == "void":
        return got is None
    if scalar in WIDE:
        if scalar == "longdouble":
            return type(got) is _LD and _ld_bytes(got) == _ld_bytes(expected)
        part = "f32" if scalar == "c64" else "f64"
        return type(got) is complex and all(pack_leaf(part, a) == pack_leaf(part, b)
                                            for a, b in ((got.real, expected.real), (got.imag, expected.imag)))
    if scalar in FLOATS:
        return type(got) is float and pack_leaf(scalar, got) == pack_leaf(scalar, expected)
    if scalar == "bool":
        return type(got) is bool and got == expected
    if scalar == "pointer":
        return (got if got is not None else 0) == expected and (got is None or type(got) is int)
    return type(got) is int and got == expected


# --- statistics (an independent reading of the ABI classes, from the compiler's layout) ------------

def sysv_class(lay: AggLayout) -> str:
    """INTEGER / SSE / mixed / MEMORY per the psABI reading of the compiler layout (statistics only)."""
    if lay.size > 16 or any(off % SIZES[s] for off, s in lay.all_leaves):
        return "MEMORY"
    eb = {}
    for off, s in lay.all_leaves:
        c = "SSE" if s in FLOATS else "INTEGER"
        i = off // 8
        eb[i] = "INTEGER" if "INTEGER" in (eb.get(i), c) else c
    classes = set(eb.values())
    return classes.pop() if len(classes) == 1 else "mixed"


def aapcs64_class(lay: AggLayout) -> str:
    """HFA / small (<= 16 bytes) / large (statistics only)."""
    kinds = {s for _, s in lay.all_leaves}
    if len(kinds) == 1 and kinds <= set(FLOATS):
        base = SIZES[next(iter(kinds))]
        offs = sorted({off for off, _ in lay.all_leaves})
        if lay.size <= 4 * base and offs == [base * i for i in range(lay.size // base)]:
            return "HFA"
    return "small" if lay.size <= 16 else "large"


def sysv_eightbytes(lay: AggLayout) -> list:
    """Per-eightbyte classes ("INTEGER"/"SSE"), or ["MEMORY"] (statistics and triage only)."""
    if lay.size > 16 or any(off % SIZES[s] for off, s in lay.all_leaves):
        return ["MEMORY"]
    eb = ["SSE"] * ((lay.size + 7) // 8)
    ints = {off // 8 for off, s in lay.all_leaves if s not in FLOATS}
    return ["INTEGER" if i in ints else "SSE" for i in range(len(eb))]


def _first_elements_only(path: str) -> bool:
    """Whether a leaf path goes through element 0 of every array on the way."""
    import re

    return all(i == "0" for i in re.findall(r"\[(\d+)\]", path))


def gcc_array_misalignment(a: Agg, lay: AggLayout) -> bool:
    """An aggregate of at most 16 bytes whose only misaligned leaves sit in array elements after the
    first.  GCC's SysV classifier (classify_argument, ARRAY_TYPE case) classifies an array by its
    element 0 and never looks at the others, so such an aggregate is passed in registers, not in
    memory.  Used only to annotate reports."""
    if lay.size > 16:
        return False
    paths = [p for p, _ in all_leaves(a)]
    bad = [p for p, (off, s) in zip(paths, lay.all_leaves) if off % SIZES[s]]
    return bool(bad) and all(not _first_elements_only(p) for p in bad)


def sysv_gcc_array_pattern(sig: Signature, layouts: dict) -> bool:
    return any(isinstance(t, Agg) and gcc_array_misalignment(t, layouts[id(t)]) for t in (sig.ret, *sig.args))


def libffi_848_pattern(sig: Signature, layouts: dict) -> bool:
    """Whether a SysV call matches libffi bug #848 (fixed upstream in 2024, present in 3.4.4):
    ffi_call copies a whole aggregate of more than 8 bytes into the general-register slot of its
    first (INTEGER) eightbyte; when that slot is the 6th (r9) the copy runs into the slot of xmm0,
    clobbering an SSE argument placed there earlier.  Used only to annotate reports."""
    gp = 1 if isinstance(sig.ret, Agg) and sysv_eightbytes(layouts[id(sig.ret)]) == ["MEMORY"] else 0
    sse = 0
    for t in sig.args:
        if isinstance(t, Agg):
            lay = layouts[id(t)]
            classes = sysv_eightbytes(lay)
            if classes == ["MEMORY"]:
                continue
            ngp, nsse = classes.count("INTEGER"), classes.count("SSE")
            if gp + ngp > 6 or sse + nsse > 8:
                continue
            if classes[0] == "INTEGER" and gp == 5 and lay.size > 8 and sse > 0:
                return True
            gp += ngp
            sse += nsse
        elif t in FLOATS or t == "c64":   # c64: one SSE eightbyte
            sse = min(sse + 1, 8)
        elif t == "c128":                 # two, or wholly on the stack
            sse = sse + 2 if sse + 2 <= 8 else sse
        elif t != "longdouble":           # long double: X87, in memory
            gp = min(gp + 1, 6)
    return False


__all__ = ["gcc_array_misalignment", "sysv_gcc_array_pattern", "sysv_eightbytes", "libffi_848_pattern", "AggLayout", "AggValue", "parse_layout", "mix", "leaf_u64", "make_value", "pack_leaf", "random_value",
           "agg_value", "random_args", "present", "IntSub", "FloatSub", "expected_hash", "expected_arg_hashes", "expected_return", "expected_return_leaves", "same_scalar",
           "sysv_class", "aapcs64_class", "FORMATS", "MASK64"]
