"""Raw memory helpers.

``ptr`` is an int address, None (NULL) or a struct/union/array/box instance.
Through an instance every access is bounds-checked: ``offset + size`` bytes
must lie within the object, else IndexError (negative offsets included).
NULL is refused whenever bytes would be touched (ValueError).  Only raw
integer addresses are trusted, as in C: a wrong one crashes the process, and
no library can check it."""
from __future__ import annotations

from . import _core
from .cdecl.spelling import resolve_type
from .model.namespace import DEFAULT
from .model.aggregates import Array, CStruct
from .model.scalars import Scalar
from .model.typed_pointers import result_class, typed_pointee

address_of = _core.address_of  # documented in _core/runtime/memory.c


def to_bytes(ptr, size: int) -> bytes:
    """A copy of ``size`` bytes at ``ptr``."""
    return _core.to_bytes(ptr, size)


def view(ptr, size: int, readonly: bool = False) -> memoryview:
    """A zero-copy memoryview (format ``"B"``) of ``size`` bytes at ``ptr``.
    A view of a fastffi object keeps the object alive; a view of a raw
    address keeps nothing alive."""
    return _core.view(ptr, size, readonly)


def to_string(ptr, size: int | None = None, encoding: str | None = "utf-8", errors: str = "surrogateescape"):
    """The NUL-terminated string at ``ptr`` (at most ``size`` bytes when given),
    decoded, or as bytes when ``encoding`` is None.  In a fastffi object the
    scan never passes the object's end: no NUL before it is an IndexError."""
    if size is not None and size < 0:
        raise ValueError("to_string(): negative size")
    raw = _core.c_string(ptr, -1 if size is None else size)
    return raw if encoding is None else raw.decode(encoding, errors)


# read() is _core.read: a scalar type it has seen before -- the same text or
# Scalar -- is read in C without coming back here; anything else is _read's (the
# Python function below, before read is rebound to the C one).
# The C side looks texts up in the default namespace's resolution cache (the
# one resolve_type consults first, cleared whenever a definition changes) and
# their types in _READ_KINDS, which only _read fills.
_READ_KINDS: dict = {}
_READ_KINDS_LIMIT = 4096   # interned pointer types are many; their reads still work past it, in Python


def read(ptr, type_, offset: int = 0):
    """The value of ``type_`` at ``ptr + offset`` (a struct type gives a copy)."""
    t = resolve_type(type_, value_only=True)
    if isinstance(t, Scalar):
        value = _core.read_scalar(ptr, offset, t.kind)
        if typed_pointee(t) is not None:
            # `T *` for a struct/union T: a typed Pointer, made here (never
            # entered in _READ_KINDS, whose reads C answers with plain ints).
            cls = result_class(t)
            return value if cls is None else cls(value)
        if len(_READ_KINDS) < _READ_KINDS_LIMIT:
            _READ_KINDS[t] = t.kind
        return value
    new = t()
    _core.copy(new, ptr, t._size_, 0, offset, "read")
    return new


_read = read   # named read: its argument errors say "read()"
_core.read_setup(DEFAULT.resolved, _READ_KINDS, _read)
read = _core.read


def reader(type_):
    """A function reading one scalar type: ``reader("i32")(ptr, offset=0)`` is
    ``read(ptr, "i32", offset)`` with the type resolved once, for the hot
    loops -- a qsort comparator, a callback walking a C array.  Same checks
    and errors as :func:`read`; struct types are read with :func:`read`.
    It is a builtin function (the kind of callable CPython calls fastest);
    its ``__self__`` is a :class:`fastffi.Reader` whose ``.type`` names the type."""
    t = resolve_type(type_, value_only=True)
    if not isinstance(t, Scalar):
        raise TypeError(f"reader(): {t.__name__} is not a scalar type (read a struct with read())")
    return _core.make_reader(t.kind, t.name)


def write(ptr, type_, value, offset: int = 0) -> None:
    """Store ``value`` as ``type_`` at ``ptr + offset`` (range-checked like an argument)."""
    t = resolve_type(type_, value_only=True)
    if isinstance(t, Scalar):
        _core.write_scalar(ptr, offset, t.kind, value, "write()")
        return
    if type(value) is not t:
        raise TypeError(f"write(): expected {t.__name__}, got {type(value).__name__}")
    _core.copy(ptr, value, t._size_, offset, 0, "write")


def write_bytes(ptr, data, offset: int = 0) -> None:
    """Copy the bytes of ``data`` (any buffer) to ``ptr + offset``."""
    _core.write_bytes(ptr, data, offset)


def get_errno() -> int:
    """This thread's copy of errno, saved right after the last ``use_errno=True`` call."""
    return _core.get_errno()


def set_errno(value: int) -> int:
    """Set what errno holds when the next ``use_errno=True`` call starts; returns the old copy."""
    return _core.set_errno(value)


# ---- gc(): C memory freed by its own deallocator when Python is done with it ----

class _Destructor:
    """Calls ``fn(address)`` once, when the last object that owns the address
    lets go of it (or never, once detached).  It is the ``owner`` of the view
    gc() returns for a struct/array, and sits in the ``__dict__`` of an
    OwnedAddress or OwnedString, so it dies with them."""

    __slots__ = ("fn", "address")

    def __init__(self, fn, address: int) -> None:
        self.fn = fn
        self.address = address

    def __del__(self) -> None:
        # Cleared before the call: the destructor runs at most once, even if
        # it raises (then CPython reports it through sys.unraisablehook, as
        # for any __del__: the object is already gone).
        fn, self.fn = self.fn, None
        if fn is not None:
            fn(self.address)

    def __reduce__(self):
        raise TypeError("a gc() destructor cannot be copied or pickled (it would run twice)")


class OwnedAddress(int):
    """An address (an int) that gc() attached a destructor to: it passes
    wherever an int does; arithmetic on it gives plain ints, which own
    nothing; copies and pickles are plain ints."""

    def __reduce__(self):
        return (int, (int(self),))

    def __repr__(self) -> str:
        return f"<fastffi owned address {int(self):#x}>"


class OwnedString(str):
    """A C string (a str with ``.address``, such as a non-const ``char *``
    result) that gc() attached a destructor to: equal to, and passing
    wherever, its text; copies and pickles are plain str."""

    @property
    def address(self) -> int:
        return self.__dict__["_destructor_"].address

    def __reduce__(self):
        return (str, (str(self),))


def _destructor_of(obj):
    if isinstance(obj, _core.CData):
        base = obj._base_
        return base if isinstance(base, _Destructor) else None
    if isinstance(obj, (OwnedAddress, OwnedString)):
        return obj.__dict__["_destructor_"]
    return None


def gc(obj, destructor):
    """Free C memory with its own deallocator when Python is done with it,
    as cffi's ``ffi.gc``: returns a new object that owns ``obj``'s address;
    when that object is collected, ``destructor(address)`` is called once,
    with the address as an int.  ``destructor`` is any callable, typically a
    fastffi Function such as libc's ``free``.

    * a struct/union/array view of foreign memory (``T.from_address``): a new
      view of the same class, size and address; the destructor runs when it
      and every view of its fields are gone;
    * an address (an int): an :class:`OwnedAddress`, an int;
    * a str carrying an int ``.address`` (a non-const ``char *`` result):
      an :class:`OwnedString`, a str with the same text and ``.address``;
    * None (a NULL result): None -- there is nothing to free.

    Keep using the returned object, not ``obj``: ``obj`` owns nothing, and
    its memory is freed when the returned object is collected.
    ``gc(owned, None)`` detaches the destructor from an object gc() returned
    (after freeing it yourself, say) and returns it; it will not run."""
    if destructor is None:
        d = _destructor_of(obj)
        if d is None:
            raise TypeError(f"gc(obj, None): {type(obj).__name__} has no destructor to detach "
                            "(pass the object gc() returned)")
        d.fn = None
        return obj
    if not callable(destructor):
        raise TypeError(f"gc() destructor must be callable (a fastffi Function such as free), "
                        f"got {type(destructor).__name__}")
    if obj is None:
        return None
    if _destructor_of(obj) is not None:
        raise ValueError(f"gc(): this {type(obj).__name__} already has a destructor "
                         "(detach it with gc(obj, None) first)")
    if isinstance(obj, _core.CData):
        cls = type(obj)
        if obj._owns_:
            raise ValueError(f"gc(): {cls.__name__} owns its memory (fastffi allocated it and frees it)")
        if obj._base_ is not None:
            raise ValueError(f"gc(): {cls.__name__} is a view of another object's memory")
        d = _Destructor(destructor, obj._address_)
        if isinstance(obj, Array):
            return cls._over(obj._address_, len(obj), d)
        return _core.cdata_view(cls, obj._address_, obj._nbytes_, d)
    if isinstance(obj, str):
        address = getattr(obj, "address", None)
        if type(address) is not int:
            raise TypeError("gc() expected a str with an int .address (a char * result), got a plain str")
        out = OwnedString(obj)
    elif isinstance(obj, int) and not isinstance(obj, bool):
        address = int(obj)
        if not 0 <= address < 2**64:
            raise OverflowError(f"gc(): {address!r} does not fit pointer")
        out = OwnedAddress(address)
    else:
        raise TypeError(f"gc() expected a struct/union/array view of foreign memory, an address (int), "
                        f"a str with .address, or None, got {type(obj).__name__}")
    if address == 0:
        return obj          # NULL: nothing to free, nothing to own
    out.__dict__["_destructor_"] = _Destructor(destructor, address)
    return out


__all__ = ["address_of", "to_bytes", "view", "to_string", "read", "write", "write_bytes", "get_errno",
           "set_errno", "gc", "OwnedAddress", "OwnedString", "CStruct"]
