"""The scalar types: canonical names, C spellings, sizes and alignments.

The kinds, sizes and alignments come from the C core (``_core.KINDS``, generated
from ``_core/kinds.h`` and measured by the compiler that built it); this module
adds the names people write.  Struct and union types are classes (aggregates.py);
everywhere a type is expected, a canonical name, a C spelling or such a class is
accepted (:func:`fastffi.cdecl.spelling.resolve_type`).  Pointer types are
scalars too (kind ``pointer`` or ``string``) that also carry their pointee and
const-ness (:mod:`fastffi.model.pointers`)."""
from __future__ import annotations

import functools
from dataclasses import dataclass

from .. import _core


@dataclass(frozen=True, eq=False)
class Scalar:
    """A scalar C type: one of the canonical names below, or a pointer type
    made by :func:`fastffi.model.pointers.pointer_to`.  Each exists once
    (SCALARS, or interned there), so identity is equality and hashing is cheap."""

    name: str
    kind: int
    size: int
    align: int
    #: struct-module/buffer-protocol format character of one element
    format: str
    #: a pointer type's pointee: a type, or an opaque name (None: untyped)
    pointee: object = None
    #: a pointer type's pointee is const (the callee does not write through it)
    const: bool = False

    @functools.cached_property
    def key(self) -> "Scalar":
        """The canonical scalar of this kind: what the tiers' caches see of a
        pointer type (pointees change no call)."""
        return self if self.pointee is None else SCALARS[self.name]

    # Cached: classifiers ask at every function creation.
    @functools.cached_property
    def is_integer(self) -> bool:
        # i128/u128 are integers too: the INTEGER class, two
        # eightbytes (psABI 3.2.3) / an x-register pair (AAPCS64 C.9).
        return self.name[0] in "iu" or self.name == "bool"

    @functools.cached_property
    def is_int128(self) -> bool:
        """``__int128`` / ``unsigned __int128``: 16 bytes, aligned 16."""
        return self.name in ("i128", "u128")

    @functools.cached_property
    def is_float(self) -> bool:
        return self.name in ("f32", "f64")

    # the wide floating kinds (C converts them through a 16-byte Wide).
    @functools.cached_property
    def is_complex(self) -> bool:
        return self.name in ("c64", "c128")

    @functools.cached_property
    def is_wide(self) -> bool:
        """c64, c128 and longdouble: kinds no 8-byte register image holds
        as one value (tiers that move only such images refuse them)."""
        return self.name in ("c64", "c128", "longdouble")

    def __repr__(self) -> str:
        if self.pointee is None:
            return f"<fastffi type {self.name}>"
        return f"<fastffi type {self.name} ({self.spelling()})>"

    def spelling(self) -> str:
        """How C spells this type (pointer types by their pointee)."""
        if self.pointee is None:
            return self.name
        target = self.pointee
        inner = target.spelling() if isinstance(target, Scalar) else getattr(target, "__name__", str(target))
        return f"{'const ' if self.const else ''}{inner} *"


_FORMATS = {
    "bool": "?", "i8": "b", "i16": "h", "i32": "i", "i64": "q",
    "u8": "B", "u16": "H", "u32": "I", "u64": "Q",
    "f32": "f", "f64": "d", "pointer": "P", "string": "P",
    # no buffer-protocol letter holds a 128-bit integer, so an
    # element exports as its 16 raw bytes (numpy reads it as S16).
    "i128": "16s", "u128": "16s", "wstring": "P",
    # complex and long double (PEP 3118 'Z' prefix; 'g' is long double)
    "c64": "Zf", "c128": "Zd", "longdouble": "g",
}

#: Canonical scalar types by name, in kind order.
SCALARS: dict[str, Scalar] = {
    name: Scalar(name, kind, size, align, _FORMATS[name])
    for name, (kind, size, align) in sorted(_core.KINDS.items(), key=lambda item: item[1][0])
}

#: ``void``: only valid as a return type.
VOID = Scalar("void", _core.KIND_VOID, 0, 1, "")


def _int_name(signed: bool, size: int) -> str:
    return f"{'i' if signed else 'u'}{size * 8}"


_LONG = _core.LONG_SIZE
_PTR = _core.POINTER_SIZE

#: C spellings (whitespace-normalised) -> canonical names.  `char` and
#: `wchar_t` follow the platform: char is signed on x86-64 and unsigned on
#: AArch64 (AAPCS64 §10.1.1), wchar_t is i32 on x86-64 and u32 on AArch64 Linux.
C_SPELLINGS: dict[str, str] = {
    "void": "void",
    "_Bool": "bool", "bool": "bool",
    "char": _int_name(bool(_core.CHAR_SIGNED), 1),
    "signed char": "i8", "unsigned char": "u8",
    "short": "i16", "short int": "i16", "signed short": "i16", "signed short int": "i16",
    "unsigned short": "u16", "unsigned short int": "u16",
    "int": "i32", "signed": "i32", "signed int": "i32",
    "unsigned": "u32", "unsigned int": "u32",
    "long": _int_name(True, _LONG), "long int": _int_name(True, _LONG),
    "signed long": _int_name(True, _LONG), "signed long int": _int_name(True, _LONG),
    "unsigned long": _int_name(False, _LONG), "unsigned long int": _int_name(False, _LONG),
    "long long": "i64", "long long int": "i64", "signed long long": "i64", "signed long long int": "i64",
    "unsigned long long": "u64", "unsigned long long int": "u64",
    "float": "f32", "double": "f64",
    "size_t": _int_name(False, _PTR), "uintptr_t": _int_name(False, _PTR),
    "ssize_t": _int_name(True, _PTR), "intptr_t": _int_name(True, _PTR), "ptrdiff_t": _int_name(True, _PTR),
    "wchar_t": _int_name(bool(_core.WCHAR_SIGNED), _core.WCHAR_SIZE),
    **{f"int{n}_t": f"i{n}" for n in (8, 16, 32, 64)},
    **{f"uint{n}_t": f"u{n}" for n in (8, 16, 32, 64)},
    "void *": "pointer", "const void *": "pointer",
    "char *": "string", "const char *": "string",
    "__int128": "i128", "__int128_t": "i128", "signed __int128": "i128", "__int128 signed": "i128",
    "unsigned __int128": "u128", "__uint128_t": "u128", "__int128 unsigned": "u128",
    "wchar_t *": "wstring", "const wchar_t *": "wstring",
    # C11 6.7.2 lets the specifiers come in any order; complex.h's
    # `complex` macro expands to _Complex.
    **{f"{a} {b}": "c64" for a, b in (("float", "_Complex"), ("_Complex", "float"), ("float", "complex"),
                                      ("complex", "float"))},
    **{f"{a} {b}": "c128" for a, b in (("double", "_Complex"), ("_Complex", "double"), ("double", "complex"),
                                       ("complex", "double"))},
    "long double": "longdouble", "double long": "longdouble",
    # the precision-named aliases exist only where they are true
    **({"f80": "longdouble"} if _core.PLAN_ABI == "sysv-x86_64" else {}),
    **({"f128": "longdouble"} if _core.PLAN_ABI == "aapcs64" else {}),
}


def scalar(name: str) -> Scalar | None:
    """The scalar (or void) type for a canonical name or a simple C spelling."""
    canonical = C_SPELLINGS.get(name, name)
    if canonical == "void":
        return VOID
    return SCALARS.get(canonical)


__all__ = ["Scalar", "SCALARS", "VOID", "C_SPELLINGS", "scalar"]
