"""Pointer types: a ``pointer`` (or, for ``char``, ``string``) scalar that
also knows what it points to and whether the pointee is const.

The call path passes every pointer the same way, so the tiers see only the
kind (:attr:`Scalar.key`); the pointee and const-ness are what argument
checks, typed results and callbacks read.  Pointer types are interned: one
object per (pointee, const, kind), so signatures holding them still compare
by identity.  The intern table holds both its keys and its pointer types
weakly (a pointer type refers to its pointee, so a strong value would keep
its own key alive): a pointer type lives as long as something uses it."""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from .scalars import SCALARS, Scalar
from .signature import type_name


@dataclass(frozen=True)
class Opaque:
    """A type known only by name (``FILE``, ``struct sqlite3``): pointers to
    it are fine, a value of it is refused."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class FunctionType:
    """The type a function pointer points to: what C calls through it.
    ``variadic`` is true for a ``...`` parameter list."""

    restype: object
    argtypes: tuple
    variadic: bool = False

    def __str__(self) -> str:
        args = [type_name(t) for t in self.argtypes] + (["..."] if self.variadic else [])
        return f"{type_name(self.restype)} ({', '.join(args) or 'void'})"


_interned: "weakref.WeakKeyDictionary[object, dict]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def pointer_to(pointee, const: bool = False, *, string: bool = False) -> Scalar:
    """The pointer type to ``pointee`` (a type, VOID or an :class:`Opaque`).
    ``string`` makes it a ``string`` (``char *``) rather than a ``pointer``."""
    base = SCALARS["string" if string else "pointer"]
    key = (bool(const), base.name)
    with _lock:
        table = _interned.get(pointee)
        if table is None:
            table = _interned[pointee] = {}
        ref = table.get(key)
        t = ref() if ref is not None else None
        if t is None:
            t = Scalar(base.name, base.kind, base.size, base.align, base.format, pointee, bool(const))
            table[key] = weakref.ref(t)
    return t


__all__ = ["FunctionType", "Opaque", "pointer_to"]
