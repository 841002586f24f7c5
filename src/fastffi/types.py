"""The public type API: define struct and union types, name types, allocate
values, ask sizes.  Everything here takes type specifications as people write
them (:mod:`fastffi.cdecl.spelling`) and builds on the model (:mod:`fastffi.model`)."""
from __future__ import annotations

from typing import Iterable

from . import _core
from .cdecl.spelling import IDENT, namespace_for, resolve_field_type, resolve_type
from .model.aggregates import Array, CStruct, CUnion, box_class, make_aggregate, make_array
from .model.layout import size_align
from .model.namespace import DEFAULT, TAG_KINDS, is_aggregate
from .model.scalars import C_SPELLINGS, VOID, Scalar


def struct(name: str, fields: Iterable, pack: int | None = None, *, types=None) -> type[CStruct]:
    """Define a C struct type.

    ``fields`` is a sequence of ``(name, type)``; a type is a canonical name, a
    C spelling, a struct/union class, ``(type, n)`` or ``"type[n]"`` for a fixed
    array.  ``(name, type, bits)`` is a bit-field of an integer type.  ``pack=N`` means ``#pragma pack(N)``.  The layout equals the C
    compiler's."""
    return make_aggregate(name, _members(fields, types), pack, is_union=False)


def union(name: str, fields: Iterable, pack: int | None = None, *, types=None) -> type[CUnion]:
    """Define a C union type (every member at offset 0)."""
    return make_aggregate(name, _members(fields, types), pack, is_union=True)


def _members(fields, types) -> list[tuple]:
    """(name, type, count) per member, (name, type, None, width) per bit-field: compute_layout's table."""
    ns = namespace_for(types) if types is not None else None   # one types= overlay for every field
    members: list[tuple] = []
    seen = set()
    for entry in fields:
        if not (isinstance(entry, tuple) and len(entry) in (2, 3) and isinstance(entry[0], str)):
            raise TypeError(f"a field is a (name, type) pair or a (name, type, bits) bit-field, got {entry!r}")
        fname, spec = entry[0], entry[1]
        # A name is an attribute and a keyword argument of the class: C's
        # identifier rule keeps both well defined ("a:3" would look like a
        # bit-field that is not one).  C and Python keywords are not refused:
        # a field name never reaches C text, and getattr() reaches any name.
        if not IDENT.fullmatch(fname):
            raise ValueError(f"field name {fname!r} is not a C identifier")
        if fname in seen:
            raise ValueError(f"duplicate field name {fname!r}")
        seen.add(fname)
        ftype, count = resolve_field_type(spec, ns)
        if len(entry) == 3:
            members.append((fname, ftype, count, _bit_width(fname, ftype, count, entry[2])))
        else:
            members.append((fname, ftype, count))
    return members


def _bit_width(fname: str, ftype, count, bits) -> int:
    """A bit-field's width: 1 to the width of its integer type (C11 6.7.2.1p4;
    a zero-width bit-field has no name, so it has no place in a field table)."""
    if count is not None or not isinstance(ftype, Scalar) or not (ftype.is_integer and ftype.pointee is None):
        raise TypeError(f"bit-field {fname!r} needs an integer type, got {ftype!r}")
    if not isinstance(bits, int) or isinstance(bits, bool):
        raise TypeError(f"bit-field {fname!r}: the width is an int, got {bits!r}")
    limit = 1 if ftype.name == "bool" else ftype.size * 8
    if not 1 <= bits <= limit:
        raise ValueError(f"bit-field {fname!r}: width {bits} is not between 1 and {limit} (the width of "
                         f"{ftype.name})")
    return bits


def define(name: str, type_) -> None:
    """Name a type in the default namespace, for declarations and type strings.

    * a struct/union class: both ``"name"`` and ``"struct name"`` (or ``"union
      name"``) then resolve to it -- the tag lives apart from ordinary names, as
      in C, so a function may still be called ``name``;
    * ``"struct name"``, ``"union name"`` or ``"enum name"``: the tag alone;
    * any other type (``define("pid_t", "i32")``, ``define("handle_t",
      "void *")``): a typedef name.

    Redefining a name as the same type (a class of the same layout) is
    allowed; anything else raises :class:`SignatureError`."""
    if not isinstance(name, str):
        raise TypeError(f"define() expected a name (str), got {type(name).__name__}")
    kind, _, tag = name.partition(" ")
    if tag and kind in TAG_KINDS:
        if not IDENT.fullmatch(tag):
            raise ValueError(f"define(): {tag!r} is not a C identifier")
        t = _definable(name, type_)
        if kind != "enum" and not (is_aggregate(t) and t._layout_.is_union == (kind == "union")):
            raise TypeError(f"define({name!r}) expected a {kind} class, got {type_!r}")
        if kind == "enum" and not (isinstance(t, Scalar) and t.pointee is None and t.is_integer):
            raise TypeError(f"define({name!r}) expected an integer type, got {type_!r}")
        DEFAULT.define_tag(kind, tag, t)
        return
    if not IDENT.fullmatch(name):
        raise ValueError(f"define(): {name!r} is not a C identifier")
    if name in C_SPELLINGS or name in _RESERVED:
        raise ValueError(f"define(): {name!r} is a built-in type name")
    t = _definable(name, type_)
    if is_aggregate(t):
        DEFAULT.define_tag("union" if t._layout_.is_union else "struct", name, t)
    DEFAULT.define_typedef(name, t)


def _definable(name: str, type_):
    if isinstance(type_, type) and not is_aggregate(type_):
        raise TypeError(f"define() expected a type, got {type_!r}")
    t = resolve_type(type_)
    if t is VOID:
        raise TypeError(f"define({name!r}): void cannot be named here")
    return t


#: Canonical names: never typedef names.
_RESERVED = frozenset(["bool", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64",
                       "pointer", "string"])


def undefine(name: str) -> None:
    """Remove a name from the default namespace (as a typedef name and as
    every tag; ``"struct name"`` removes that tag alone)."""
    kind, _, tag = name.partition(" ")
    if tag and kind in TAG_KINDS:
        DEFAULT.undefine_tag(kind, tag)
    else:
        DEFAULT.undefine(name)


def array(type_, length_or_items) -> Array:
    """A zeroed C array of ``n`` elements, or one filled from an iterable."""
    return make_array(resolve_type(type_, value_only=True), length_or_items)


def new(type_, value=None):
    """Allocate one zeroed value of ``type_`` (an out-parameter).

    Scalars give a box with ``.value``; a struct/union class gives an instance
    (``value``, if given, is an instance to copy)."""
    t = resolve_type(type_, value_only=True)
    if isinstance(t, Scalar):
        cls = box_class(t)
        box = _core.cdata_alloc(cls, t.size, t.format, t.size)
        if value is not None:
            box.value = value
        return box
    inst = t()
    if value is not None:
        if type(value) is not t:
            raise TypeError(f"new(): expected {t.__name__}, got {type(value).__name__}")
        _core.copy(inst, value, t._size_)
    return inst


def sizeof(type_) -> int:
    """Size in bytes of a type (name, C spelling or struct class) or instance."""
    if isinstance(type_, _core.CData):
        return type_._nbytes_
    return size_align(resolve_type(type_, value_only=True))[0]


def alignof(type_) -> int:
    """Alignment in bytes of a type."""
    return size_align(resolve_type(type_, value_only=True))[1]


def offsetof(type_, field: str) -> int:
    """Offset of ``field`` in a struct or union class."""
    if not (isinstance(type_, type) and issubclass(type_, CStruct)):
        raise TypeError(f"offsetof() expected a struct or union class, got {type_!r}")
    try:
        return type_._layout_.by_name[field].offset
    except KeyError:
        raise ValueError(f"{type_.__name__} has no field {field!r}") from None


__all__ = ["struct", "union", "define", "undefine", "array", "new", "sizeof", "alignof", "offsetof",
           ]
