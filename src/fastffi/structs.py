"""Struct, union, array and box types over C memory.

Instances are :class:`fastffi._core.CData` objects: they own zeroed memory (or
view someone else's) and export it through the buffer protocol, zero-copy.
Fields are descriptors that read and write that memory in place, so nested
struct and array fields are live views into their parent."""
from __future__ import annotations

import functools
from typing import Any, Iterable

from . import _core
from .layout import Layout, compute_layout, size_align
from .signature import type_name
from .types import Scalar

_read = _core.read_scalar
_write = _core.write_scalar
_view = _core.cdata_view


class CStruct(_core.CData):
    """Base of every struct and union class made by :func:`struct`/:func:`union`."""

    __slots__ = ()
    _layout_: Layout
    _size_: int = 0

    def __init__(self, **fields: Any) -> None:
        known = self._layout_.by_name
        for name, value in fields.items():
            if name not in known:
                raise TypeError(f"{type(self).__name__}() has no field {name!r}")
            setattr(self, name, value)

    @classmethod
    def from_address(cls, address: int):
        """A non-owning view of the struct at ``address`` (foreign memory:
        it must stay valid while the view is used)."""
        if not address:
            raise ValueError(f"{cls.__name__}.from_address(): address must not be NULL")
        return _view(cls, address, cls._size_)

    @classmethod
    def from_buffer(cls, buffer):
        """A view of the first ``sizeof(cls)`` bytes of a writable buffer."""
        mv = memoryview(buffer)
        if mv.readonly:
            raise TypeError(f"{cls.__name__}.from_buffer(): buffer is read-only")
        if mv.nbytes < cls._size_:
            raise ValueError(f"{cls.__name__}.from_buffer(): buffer has {mv.nbytes} bytes, need {cls._size_}")
        return _view(cls, _core.address_of(buffer), cls._size_, buffer)

    def __bytes__(self) -> bytes:
        return _core.to_bytes(self, self._size_)

    def __repr__(self) -> str:
        parts = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in self._layout_.fields)
        return f"{type(self).__name__}({parts})"

    def _copy(self):
        """An owning copy of this value."""
        new = type(self)()
        _core.copy(new, self, self._size_)
        return new


def _scalar_field(name: str, context: str, offset: int, t: Scalar):
    kind = t.kind

    def get(self):
        return _read(self, offset, kind)

    def set(self, value):
        _write(self, offset, kind, value, context)

    return property(get, set, doc=f"{name}: {t.name} at offset {offset}")


def _struct_field(name: str, context: str, offset: int, cls):
    size = cls._size_

    def get(self):
        return _view(cls, self._address_ + offset, size, self)

    def set(self, value):
        if type(value) is not cls:
            raise TypeError(f"{context}: expected {cls.__name__}, got {type(value).__name__}")
        _core.copy(self._address_ + offset, value, size)

    return property(get, set, doc=f"{name}: {cls.__name__} at offset {offset} (a live view)")


def _array_field(name: str, context: str, offset: int, elem, count: int):
    cls = array_class(elem)
    esize = size_align(elem)[0]

    def get(self):
        return cls._over(self._address_ + offset, count, self)

    def set(self, value):
        items = list(value)
        if len(items) != count:
            raise ValueError(f"{context}: expected a sequence of {count} items, got {len(items)}")
        # Convert everything first so a bad item leaves the field unchanged.
        staged = array(elem, items)
        _core.copy(self._address_ + offset, staged, esize * count)

    return property(get, set, doc=f"{name}: {count} x {type_name(elem)} at offset {offset} (a live view)")


def _parse_members(fields, types) -> list[tuple[str, Any, int | None]]:
    from .signature import resolve_field_type

    members = []
    seen = set()
    for entry in fields:
        if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str)):
            raise TypeError(f"a field is a (name, type) pair, got {entry!r}")
        fname, spec = entry
        if fname in seen:
            raise ValueError(f"duplicate field name {fname!r}")
        seen.add(fname)
        ftype, count = resolve_field_type(spec, types)
        members.append((fname, ftype, count))
    return members


def _make_aggregate(name: str, fields, pack, types, is_union: bool):
    layout = compute_layout(name, _parse_members(fields, types), pack=pack, is_union=is_union)
    namespace: dict[str, Any] = {"__slots__": (), "_layout_": layout, "_size_": layout.size,
                                 "__doc__": f"C {'union' if is_union else 'struct'} {name}"}
    for f in layout.fields:
        if f.name.startswith("_") and f.name.endswith("_"):
            raise ValueError(f"field name {f.name!r} is reserved")
        context = f"{name}.{f.name}"
        if f.count is not None:
            namespace[f.name] = _array_field(f.name, context, f.offset, f.type, f.count)
        elif isinstance(f.type, Scalar):
            namespace[f.name] = _scalar_field(f.name, context, f.offset, f.type)
        else:
            namespace[f.name] = _struct_field(f.name, context, f.offset, f.type)
    base = CUnion if is_union else CStruct
    return type(name, (base,), namespace)


class CUnion(CStruct):
    """Base of every union class."""

    __slots__ = ()


def struct(name: str, fields: Iterable, pack: int | None = None, *, types=None) -> type[CStruct]:
    """Define a C struct type.

    ``fields`` is a sequence of ``(name, type)``; a type is a canonical name, a
    C spelling, a struct/union class, ``(type, n)`` or ``"type[n]"`` for a fixed
    array.  ``pack=N`` means ``#pragma pack(N)``.  The layout equals the C
    compiler's."""
    return _make_aggregate(name, fields, pack, types, is_union=False)


def union(name: str, fields: Iterable, pack: int | None = None, *, types=None) -> type[CUnion]:
    """Define a C union type (every member at offset 0)."""
    return _make_aggregate(name, fields, pack, types, is_union=True)


# ---- arrays ----

class Array(_core.CData):
    """A typed C array: indexable, iterable, and a buffer of its element format."""

    __slots__ = ()
    _elem_: Any
    _elem_size_: int
    _size_ = 0

    @classmethod
    def _over(cls, address, count, owner=None):
        fmt = cls._format_
        return _view(cls, address, count * cls._elem_size_, owner, fmt, cls._elem_size_)

    def __len__(self) -> int:
        return self._nbytes_ // self._elem_size_

    def _index(self, i: int) -> int:
        n = len(self)
        i = i.__index__()
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("array index out of range")
        return i * self._elem_size_

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        offset = self._index(i)
        elem = self._elem_
        if isinstance(elem, Scalar):
            return _read(self, offset, elem.kind)
        return _view(elem, self._address_ + offset, elem._size_, self)

    def __setitem__(self, i, value):
        if isinstance(i, slice):
            indices = range(*i.indices(len(self)))
            values = list(value)
            if len(values) != len(indices):
                raise ValueError(f"slice assignment needs {len(indices)} items, got {len(values)}")
            for j, v in zip(indices, values):
                self[j] = v
            return
        offset = self._index(i)
        elem = self._elem_
        if isinstance(elem, Scalar):
            _write(self, offset, elem.kind, value, f"{type(self).__name__}[{i}]")
        else:
            if type(value) is not elem:
                raise TypeError(f"{type(self).__name__}[{i}]: expected {elem.__name__}, got {type(value).__name__}")
            _core.copy(self._address_ + offset, value, elem._size_)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)!r})"


@functools.lru_cache(maxsize=None)
def array_class(elem) -> type[Array]:
    """The array class for an element type (cached: one class per element type)."""
    esize = size_align(elem)[0]
    fmt = elem.format if isinstance(elem, Scalar) else "B"
    if not isinstance(elem, Scalar):
        # A struct element exports raw bytes: itemsize 1 keeps the buffer honest.
        return type(f"{elem.__name__}[]", (Array,), {"__slots__": (), "_elem_": elem, "_elem_size_": esize,
                                                    "_format_": "B", "_itemsize_": 1})
    return type(f"{elem.name}[]", (Array,), {"__slots__": (), "_elem_": elem, "_elem_size_": esize,
                                            "_format_": fmt, "_itemsize_": esize})


def array(type_, length_or_items) -> Array:
    """A zeroed C array of ``n`` elements, or one filled from an iterable."""
    from .signature import resolve_type

    elem = resolve_type(type_, value_only=True)
    cls = array_class(elem)
    if isinstance(length_or_items, int):
        items = None
        n = length_or_items
    else:
        items = list(length_or_items)
        n = len(items)
    if n < 0:
        raise ValueError("array length must be >= 0")
    arr = _core.cdata_alloc(cls, n * cls._elem_size_, cls._format_, cls._itemsize_)
    if items is not None:
        for i, v in enumerate(items):
            arr[i] = v
    return arr


# ---- boxes ----

class Box(_core.CData):
    """One C value in memory: the typed out-parameter (``fastffi.new``)."""

    __slots__ = ()
    _type_: Scalar

    @property
    def value(self):
        return _read(self, 0, self._type_.kind)

    @value.setter
    def value(self, v):
        _write(self, 0, self._type_.kind, v, "value")

    def __repr__(self) -> str:
        return f"<fastffi box {self._type_.name} value={self.value!r}>"


@functools.lru_cache(maxsize=None)
def _box_class(t: Scalar) -> type[Box]:
    return type(f"Box[{t.name}]", (Box,), {"__slots__": (), "_type_": t, "_size_": t.size})


def new(type_, value=None):
    """Allocate one zeroed value of ``type_`` (an out-parameter).

    Scalars give a box with ``.value``; a struct/union class gives an instance
    (``value``, if given, is an instance to copy)."""
    from .signature import resolve_type

    t = resolve_type(type_, value_only=True)
    if isinstance(t, Scalar):
        cls = _box_class(t)
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
    from .signature import resolve_type

    if isinstance(type_, _core.CData):
        return type_._nbytes_
    return size_align(resolve_type(type_, value_only=True))[0]


def alignof(type_) -> int:
    """Alignment in bytes of a type."""
    from .signature import resolve_type

    return size_align(resolve_type(type_, value_only=True))[1]


def offsetof(type_, field: str) -> int:
    """Offset of ``field`` in a struct or union class."""
    if not (isinstance(type_, type) and issubclass(type_, CStruct)):
        raise TypeError(f"offsetof() expected a struct or union class, got {type_!r}")
    try:
        return type_._layout_.by_name[field].offset
    except KeyError:
        raise ValueError(f"{type_.__name__} has no field {field!r}") from None


__all__ = ["CStruct", "CUnion", "Array", "Box", "struct", "union", "array", "array_class", "new",
           "sizeof", "alignof", "offsetof"]
