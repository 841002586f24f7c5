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
from .model.aggregates import CStruct
from .model.scalars import Scalar

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


def read(ptr, type_, offset: int = 0):
    """The value of ``type_`` at ``ptr + offset`` (a struct type gives a copy)."""
    t = resolve_type(type_, value_only=True)
    if isinstance(t, Scalar):
        return _core.read_scalar(ptr, offset, t.kind)
    new = t()
    _core.copy(new, ptr, t._size_, 0, offset, "read")
    return new


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


__all__ = ["address_of", "to_bytes", "view", "to_string", "read", "write", "write_bytes", "get_errno",
           "set_errno", "CStruct"]
