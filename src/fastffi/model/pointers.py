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

from .layout import type_key
from .scalars import SCALARS, Scalar, scalar
from .signature import Signature, type_name


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


def pointer_to(pointee, const: bool = False, *, string: bool = False, wide: bool = False) -> Scalar:
    """The pointer type to ``pointee`` (a type, VOID or an :class:`Opaque`).
    ``string`` makes it a ``string`` (``char *``) rather than a ``pointer``;
    ``wide`` a ``wstring`` (``wchar_t *``)."""
    base = SCALARS["wstring" if wide else "string" if string else "pointer"]
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


def function_key(ftype) -> tuple:
    """What decides whether a function (a callback) may be passed where a
    function pointer is declared: ``ftype`` is a :class:`FunctionType`, a
    pointer type to one or a :class:`~fastffi.model.signature.Signature`.

    C11 6.7.6.3p15: two function types are compatible when their results
    and their parameters are, and a parameter's qualifiers do not count
    (a ``const int`` parameter is an ``int`` one); parameter names are no part
    of a type at all.  Typedef names are resolved before this (a type here
    is what the name stands for).  Pointers compare by what they point to,
    const or not -- a callback taking ``void *`` serves a ``const void *``
    parameter (the qualifier is a promise of the callee, not of the ABI);
    an aggregate by its layout's key (no class is kept alive by a key)."""
    if isinstance(ftype, Scalar) and isinstance(ftype.pointee, FunctionType):
        ftype = ftype.pointee
    if isinstance(ftype, FunctionType):
        restype, argtypes, variadic = ftype.restype, ftype.argtypes, ftype.variadic
    elif isinstance(ftype, Signature):
        variadic = ftype.nfixed is not None
        restype, argtypes = ftype.restype, ftype.argtypes[:ftype.nfixed]
    else:
        raise TypeError(f"function_key() expected a function type or a signature, got {ftype!r}")
    return (_key(restype), tuple([_key(t) for t in argtypes]), variadic)


#: What an untyped pointer (the canonical ``pointer`` and ``string`` names)
#: points to: ``void`` and ``char``, as those names are documented to mean.
_UNTYPED = {"pointer": "void", "string": "char", "wstring": "wchar_t"}


def _key(t):
    if isinstance(t, Scalar):
        if t.name not in _UNTYPED:
            return t   # interned: a typedef name or an enum has resolved to the scalar itself
        pointee = t.pointee if t.pointee is not None else scalar(_UNTYPED[t.name])
        if isinstance(pointee, FunctionType):
            return (t.name, function_key(pointee))
        if isinstance(pointee, Opaque):
            return (t.name, pointee)
        return (t.name, _key(pointee))
    return type_key(t)


__all__ = ["FunctionType", "Opaque", "function_key", "pointer_to"]
