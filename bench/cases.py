"""The benchmark cases: the one table the peers, the C build and the worker all read.

Each case is written as the C prototype of its target (the single source of
truth for its signature); the canonical fastffi type names are derived from
it through ``C_TYPES``.  build.py compiles targets.c followed by the same
prototypes, so the table cannot drift from the C code, and gives them to cffi
as its ``cdef``.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import Any, Callable

TARGETS = "targets"  # the library build.py compiles from targets.c
LIBC = "libc.so.6"  # this harness is Linux-only (gcc, ELF, valgrind)


# Canonical scalar type -> (C spelling, struct-module code), for struct fields.
FIELD_TYPES = {
    "i8": ("int8_t", "b"), "i16": ("int16_t", "h"), "i32": ("int32_t", "i"),
    "i64": ("int64_t", "q"), "u8": ("uint8_t", "B"), "u16": ("uint16_t", "H"),
    "u32": ("uint32_t", "I"), "u64": ("uint64_t", "Q"), "f32": ("float", "f"),
    "f64": ("double", "d"),
}


@dataclass(frozen=True)
class StructSpec:
    """A struct passed by value: its name and (field name, canonical type) list."""

    name: str
    fields: tuple[tuple[str, str], ...]

    @property
    def c_definition(self) -> str:
        body = " ".join(f"{FIELD_TYPES[t][0]} {n};" for n, t in self.fields)
        return f"struct {self.name} {{ {body} }};"

    def pack(self, values) -> bytes:
        """An instance's bytes, each field at its native alignment as in C.

        struct adds no trailing padding: enough for structs whose size is a
        multiple of their alignment, as every struct here is."""
        return struct.pack("@" + "".join(FIELD_TYPES[t][1] for _, t in self.fields), *values)


VEC3 = StructSpec("Vec3", (("x", "f64"), ("y", "f64"), ("z", "f64")))

# C spelling -> canonical fastffi type (or StructSpec).  Only the spellings
# the prototypes below use; a new case with a new spelling fails loudly.
C_TYPES: dict[str, Any] = {
    "void": "void",
    "int8_t": "i8",
    "int16_t": "i16",
    "int32_t": "i32",
    "int64_t": "i64",
    "uint32_t": "u32",
    "uint64_t": "u64",
    "size_t": "u64",
    "float": "f32",
    "double": "f64",
    "const uint8_t *": "pointer",
    "const char *": "string",
    "struct Vec3": VEC3,
}


def _split_prototype(decl: str) -> tuple[str, str, list[str]]:
    """``"int32_t add_i32(int32_t, int32_t)"`` -> (restype, name, argtypes).

    Parameters are written without names, so no real C parser is needed.
    """
    m = re.fullmatch(r"\s*(.+?)\s*\b(\w+)\s*\((.*)\)\s*", decl)
    if not m:
        raise ValueError(f"cannot split prototype {decl!r}")
    restype, name, params = m.groups()
    args = [p.strip() for p in params.split(",")] if params.strip() != "void" else []
    return restype, name, args


@dataclass(frozen=True)
class Case:
    """One benchmark: a target prototype, the arguments, the expected result."""

    name: str
    prototype: str
    args: tuple
    expect: Callable[..., Any]
    library: str = TARGETS
    # The argument is a str: only peers that convert str for char * run it
    # (ctypes and cffi accept bytes only).
    str_arg: bool = False
    symbol: str = field(init=False)
    restype: Any = field(init=False)
    argtypes: tuple = field(init=False)

    def __post_init__(self):
        restype, symbol, argtypes = _split_prototype(self.prototype)
        set_ = object.__setattr__  # frozen dataclass: derived fields set once here
        set_(self, "symbol", symbol)
        set_(self, "restype", C_TYPES[restype])
        set_(self, "argtypes", tuple(C_TYPES[a] for a in argtypes))
        if len(self.args) != len(self.argtypes):
            raise ValueError(f"{self.name}: {len(self.args)} args for {self.prototype}")

    @property
    def expected(self):
        return self.expect(*self.args)


_BYTES = bytes(range(1, 33))
_TEXT = "hello, fastffi!"
# Every partial sum of these is exact in double, so any summation order agrees.
_MIX12 = (-7, 1.5, 1 << 40, 0.25, 4_000_000_000, -2.75, -300, 1e3, 1 << 45, 8.5, -5, 0.125)

CASES: tuple[Case, ...] = (
    Case("noop", "void noop(void)", (), lambda: None),
    Case("add_i32", "int32_t add_i32(int32_t, int32_t)", (12345, -678), lambda a, b: a + b),
    Case("add_f64", "double add_f64(double, double)", (1.5, 2.25), lambda a, b: a + b),
    # Three arguments: what the plan saves over libffi's per-call classification.
    Case("mix3", "int64_t mix3(int32_t, int64_t, double)", (7, -(1 << 35), 2.0),
         lambda a, b, c: a + b + int(c)),
    Case("mix4", "double mix4(int32_t, double, int64_t, double)", (3, 0.5, -(1 << 33), 2.5),
         lambda *a: sum(a)),
    Case("sum8_i64", "int64_t sum8_i64(int64_t, int64_t, int64_t, int64_t, "
                     "int64_t, int64_t, int64_t, int64_t)",
         (1, -2, 3, -4, 5, -6, 1 << 40, 8), lambda *a: sum(a)),
    Case("mix12", "double mix12(int32_t, double, int64_t, float, uint32_t, double, "
                  "int16_t, double, uint64_t, float, int8_t, double)",
         _MIX12, lambda *a: sum(a)),
    Case("vec3_norm2", "double vec3_norm2(struct Vec3)", ((1.0, -2.0, 3.0),),
         lambda v: sum(c * c for c in v)),
    Case("sum_bytes", "uint32_t sum_bytes(const uint8_t *, size_t)", (_BYTES, len(_BYTES)),
         lambda p, n: sum(p[:n])),
    Case("strlen", "size_t strlen(const char *)", (_TEXT.encode(),), len, library=LIBC),
    Case("strlen_str", "size_t strlen(const char *)", (_TEXT,), lambda s: len(s.encode()),
         library=LIBC, str_arg=True),
)
CASES_BY_NAME = {c.name: c for c in CASES}


def c_struct_definitions() -> str:
    """The C definition of every struct the cases pass by value."""
    structs = {t for c in CASES for t in (c.restype, *c.argtypes) if isinstance(t, StructSpec)}
    return "".join(s.c_definition + "\n" for s in sorted(structs, key=lambda s: s.name))


def c_prototypes() -> str:
    """One C prototype per target (strlen appears in two cases, once here)."""
    return "".join(dict.fromkeys(f"{c.prototype};\n" for c in CASES))


def c_declarations() -> str:
    """Struct definitions and prototypes: the cffi cdef and its C source."""
    return c_struct_definitions() + c_prototypes()
