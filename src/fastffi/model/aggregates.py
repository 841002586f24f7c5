"""Struct, union, array and box types over C memory.

Instances are :class:`fastffi._core.CData` objects: they own zeroed memory (or
view someone else's) and export it through the buffer protocol, zero-copy.
Fields are descriptors that read and write that memory in place, so nested
struct and array fields are live views into their parent."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _core
from .layout import Layout, compute_layout, size_align
from .pointers import FunctionType
from .scalars import Scalar
from .signature import type_name
from .typed_pointers import result_class, typed_pointee

_read = _core.read_scalar
_write = _core.write_scalar
_view = _core.cdata_view


class CStruct(_core.CData):
    """Base of every struct and union class made by :func:`struct`/:func:`union`."""

    __slots__ = ()
    _layout_: Layout
    _size_: int = 0
    #: members of anonymous members, reached as this struct's own
    _promoted_: tuple = ()
    #: the anonymous members, and members' own alignment attributes (what made the layout)
    _anonymous_: frozenset = frozenset()
    _member_align_: dict = {}
    #: the member table the layout was computed from (unnamed bit-fields too)
    _members_: tuple = ()

    if TYPE_CHECKING:
        # Fields are descriptors made per class at run time (make_aggregate): to a type
        # checker any attribute of a struct is a field of unknown type.
        def __getattr__(self, name: str) -> Any: ...
        def __setattr__(self, name: str, value: Any) -> None: ...

    def __init__(self, **fields: Any) -> None:
        known = self._layout_.by_name
        for name, value in fields.items():
            if name not in known and name not in self._promoted_:
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
        """A view of the first ``sizeof(cls)`` bytes of a writable buffer.

        The view holds an export of the buffer for as long as it (or a view
        of a field of it) lives, as ctypes and cffi do: resizing a bytearray
        under it raises BufferError instead of leaving the view on freed
        memory.  ``_base_`` is that memoryview (its ``.obj`` is ``buffer``)."""
        mv = memoryview(buffer)
        if mv.readonly:
            raise TypeError(f"{cls.__name__}.from_buffer(): buffer is read-only")
        if not mv.c_contiguous:
            raise ValueError(f"{cls.__name__}.from_buffer(): buffer is not C-contiguous")
        if mv.nbytes < cls._size_:
            raise ValueError(f"{cls.__name__}.from_buffer(): buffer has {mv.nbytes} bytes, need {cls._size_}")
        # The address of this very export: it stays valid while mv is held.
        return _view(cls, _core.address_of(mv), cls._size_, mv)

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

    # copy.copy and copy.deepcopy copy the bytes into new owned memory (a view's too); what the
    # original keeps alive for its pointer fields is kept by the copy as well, and not copied:
    # the copied pointers still point at those very objects.
    def __copy__(self):
        return self._copy()

    def __deepcopy__(self, memo):
        return self._copy()


def _scalar_field(name: str, context: str, offset: int, t: Scalar):
    kind = t.kind

    def get(self):
        return _read(self, offset, kind)

    def set(self, value):
        _write(self, offset, kind, value, context)

    return property(get, set, doc=f"{name}: {t.name} at offset {offset}")


#: (function type, name) -> a maker of Functions from addresses: installed by
#: fastffi.tiers at import (the model is below the tiers and cannot import them).
_function_maker = None


def set_function_maker(make) -> None:
    global _function_maker
    _function_maker = make


def _function_field(name: str, context: str, offset: int, t: Scalar):
    """A function-pointer field: read as a callable Function of its type
    (None for NULL), written as an address -- or a Function, by its address."""
    kind = t.kind
    maker = None

    def get(self):
        nonlocal maker
        address = _read(self, offset, kind)
        if not address:
            return None
        if maker is None:   # made on first read: the tiers are imported by then
            maker = _function_maker(t.pointee, context)
        return maker(address)

    def set(self, value):
        if isinstance(value, _core.Function):
            value = value.address
        _write(self, offset, kind, value, context)

    return property(get, set, doc=f"{name}: {t.spelling()} at offset {offset} (read as a Function)")


def _typed_pointer_field(name: str, context: str, offset: int, t: Scalar, resolve):
    """A ``T *`` field for a struct/union ``T``: read as a typed Pointer
    (an int with p[i] / p.contents), written as any pointer field is; a plain
    int while ``T`` is incomplete (model.typed_pointers)."""
    kind = t.kind
    cls = None

    def get(self):
        nonlocal cls
        if cls is None:   # found on a read: ``T`` may be the struct being defined, or defined later
            cls = result_class(t, resolve)
            if cls is None:
                return _read(self, offset, kind)
        return cls(_read(self, offset, kind))

    def set(self, value):
        _write(self, offset, kind, value, context)

    return property(get, set, doc=f"{name}: {t.spelling()} at offset {offset} (read as a typed pointer)")


def _bit_field(name: str, context: str, f):
    """A bit-field: the bytes holding its bits are read (and, to write, read,
    changed and written back) through the instance's buffer; a signed field
    sign-extends, an unsigned one takes values 0 .. 2**width - 1."""
    t, width = f.type, f.bits
    first = f.offset * 8 + f.bit_offset
    start, end = first // 8, (first + width + 7) // 8
    shift = first - start * 8
    mask = (1 << width) - 1
    signed = t.name[0] == "i"
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, mask)
    spelling = f"{t.name}:{width}"

    def get(self):
        raw = int.from_bytes(memoryview(self).cast("B")[start:end], "little")
        v = (raw >> shift) & mask
        if t.name == "bool":
            return bool(v)
        return v - (1 << width) if signed and v >> (width - 1) else v

    def set(self, value):
        if isinstance(value, bool) or t.name == "bool":
            value = int(value) if isinstance(value, (bool, int)) else value
        try:
            v = value.__index__()
        except AttributeError:
            raise TypeError(f"{context}: expected int, got {type(value).__name__}") from None
        if not lo <= v <= hi:
            raise OverflowError(f"{context}: {v!r} does not fit {spelling}")
        buf = memoryview(self).cast("B")
        raw = int.from_bytes(buf[start:end], "little")
        raw = (raw & ~(mask << shift)) | ((v & mask) << shift)
        buf[start:end] = raw.to_bytes(end - start, "little")

    return property(get, set, doc=f"{name}: {spelling} bit-field at bit {first}")


def _struct_field(name: str, context: str, offset: int, cls):
    size = cls._size_

    def get(self):
        return _view(cls, self._address_ + offset, size, self)

    def set(self, value):
        if type(value) is not cls:
            raise TypeError(f"{context}: expected {cls.__name__}, got {type(value).__name__}")
        _core.copy(self, value, size, offset)

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
        staged = make_array(elem, items)
        _core.copy(self, staged, esize * count, offset)

    return property(get, set, doc=f"{name}: {count} x {type_name(elem)} at offset {offset} (a live view)")


def make_aggregate(name: str, members, pack: int | None, is_union: bool, *, member_align: dict | None = None,
                   min_align: int = 1, anonymous: frozenset = frozenset(), resolve=None):
    """The struct or union class of ``members``: (name, type, count-or-None),
    types already resolved.  ``resolve(name)`` finds the struct a ``T *``
    member names when ``T`` was incomplete at the member (the header that
    declares it; model.typed_pointers).  Members named in ``anonymous`` are C11's
    anonymous structs and unions (6.7.2.1p13): their members are reached as
    members of this one."""
    layout = compute_layout(name, members, pack=pack, is_union=is_union, member_align=member_align,
                            min_align=min_align)
    namespace: dict[str, Any] = {"__slots__": (), "_layout_": layout, "_size_": layout.size,
                                 "__doc__": f"C {'union' if is_union else 'struct'} {name}"}
    for f in layout.fields:
        if f.name.startswith("_") and f.name.endswith("_"):
            raise ValueError(f"field name {f.name!r} is reserved")
        context = f"{name}.{f.name}"
        if f.bits is not None:
            namespace[f.name] = _bit_field(f.name, context, f)
        elif f.count is not None:
            namespace[f.name] = _array_field(f.name, context, f.offset, f.type, f.count)
        elif isinstance(f.type, Scalar) and isinstance(f.type.pointee, FunctionType):
            namespace[f.name] = _function_field(f.name, context, f.offset, f.type)
        elif typed_pointee(f.type) is not None:
            namespace[f.name] = _typed_pointer_field(f.name, context, f.offset, f.type, resolve)
        elif isinstance(f.type, Scalar):
            namespace[f.name] = _scalar_field(f.name, context, f.offset, f.type)
        else:
            namespace[f.name] = _struct_field(f.name, context, f.offset, f.type)
    for f in layout.fields:
        if f.name in anonymous:
            for inner in _member_names(f.type):
                if inner in namespace:
                    raise ValueError(f"{name}: member {inner!r} is declared twice (C11 6.7.2.1p13)")
                namespace[inner] = _promoted_field(f.name, inner)
    namespace["_members_"] = tuple(members)
    namespace["_anonymous_"] = frozenset(anonymous)
    namespace["_member_align_"] = dict(member_align or {})
    namespace["_promoted_"] = tuple(n for f in layout.fields if f.name in anonymous for n in _member_names(f.type))
    base = CUnion if is_union else CStruct
    return type(name, (base,), namespace)


def _member_names(cls) -> list[str]:
    """The names a struct's members are reached by, promoted ones included."""
    return [f.name for f in cls._layout_.fields] + list(cls._promoted_)


def _promoted_field(outer: str, inner: str):
    """A member of an anonymous member, reached through it."""
    def get(self):
        return getattr(getattr(self, outer), inner)

    def set(self, value):
        setattr(getattr(self, outer), inner, value)

    return property(get, set, doc=f"{inner}: a member of the anonymous member {outer}")


class CUnion(CStruct):
    """Base of every union class."""

    __slots__ = ()


# ---- arrays ----

class Array(_core.CData):
    """A typed C array: indexable, iterable, and a buffer of its element format."""

    __slots__ = ()
    _elem_: Any
    _elem_size_: int
    _format_: str
    _itemsize_: int
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
            _core.copy(self, value, elem._size_, offset)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)!r})"

    def __copy__(self):
        """A new owned array of the same elements (the bytes copied, as for structs)."""
        cls = type(self)
        new = _core.cdata_alloc(cls, self._nbytes_, cls._format_, cls._itemsize_)
        _core.copy(new, self, self._nbytes_)
        return new

    def __deepcopy__(self, memo):
        return self.__copy__()


#: scalar -> its array class (a struct's is kept on the struct class itself,
#: so it goes with it)
_scalar_arrays: dict = {}


def array_class(elem) -> type[Array]:
    """The array class for an element type: one class per element type (a
    pointer type shares its kind's)."""
    if isinstance(elem, Scalar):
        elem = elem.key
        cls = _scalar_arrays.get(elem)
        if cls is None:
            cls = _scalar_arrays.setdefault(elem, _new_array_class(elem))
        return cls
    cls = elem.__dict__.get("_array_class_")
    if cls is None:
        cls = _new_array_class(elem)
        type.__setattr__(elem, "_array_class_", cls)
    return cls


def make_array(elem, length_or_items) -> Array:
    """A zeroed array of ``n`` elements of a resolved type, or one filled from an iterable."""
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


def _new_array_class(elem) -> type[Array]:
    esize = size_align(elem)[0]
    fmt = elem.format if isinstance(elem, Scalar) else "B"
    if not isinstance(elem, Scalar):
        # A struct element exports raw bytes: itemsize 1 keeps the buffer honest.
        return type(f"{elem.__name__}[]", (Array,), {"__slots__": (), "_elem_": elem, "_elem_size_": esize,
                                                    "_format_": "B", "_itemsize_": 1})
    return type(f"{elem.name}[]", (Array,), {"__slots__": (), "_elem_": elem, "_elem_size_": esize,
                                            "_format_": fmt, "_itemsize_": esize})


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

    def __copy__(self):
        """A new box holding the same bytes."""
        t = self._type_
        new = _core.cdata_alloc(type(self), t.size, t.format, t.size)
        _core.copy(new, self, t.size)
        return new

    def __deepcopy__(self, memo):
        return self.__copy__()


_boxes: dict = {}


def box_class(t: Scalar) -> type[Box]:
    """The box class of a scalar (a pointer type shares its kind's)."""
    t = t.key
    cls = _boxes.get(t)
    if cls is None:
        cls = _boxes.setdefault(t, type(f"Box[{t.name}]", (Box,), {"__slots__": (), "_type_": t, "_size_": t.size}))
    return cls


__all__ = ["CStruct", "CUnion", "Array", "Box", "make_aggregate", "make_array", "array_class", "box_class"]
