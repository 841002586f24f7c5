"""Function pointers read from C -- a function's result, a struct field --
as callable Functions of their declared type (None for NULL).

A :class:`FunctionMaker` is made once per declaration (a Function's result,
a struct class's field) and turns an address into a Function the way
``fastffi.function(address, ...)`` would, on the fastest tier that takes the
pointee's signature.  Creating a Function costs microseconds (a tier choice,
a plan), and a vtable hands out the same few addresses over and over, so the
maker keeps the last Functions it made by address."""
from __future__ import annotations

from typing import Callable

from ..model.pointers import FunctionType
from ..model.scalars import Scalar
from ..model.signature import Signature

#: Functions a maker keeps, by address; past this it starts afresh (bounded,
#: as every per-declaration cache is).
CACHE_LIMIT = 64


def pointee_function(t) -> FunctionType | None:
    """The function type ``t`` points to, if ``t`` is a function-pointer type."""
    if t.__class__ is Scalar and isinstance(t.pointee, FunctionType):
        return t.pointee
    return None


class FunctionMaker:
    """address (int) -> the Function of ``ftype`` at it, sharing ``handle``
    (the library the pointer came from: its functions refuse calls once it is
    closed, as the one that returned the pointer does).  ``name`` names the
    Functions, or None: ``fn_0x...`` by address, as raw-address Functions are."""

    __slots__ = ("create", "sig", "handle", "name", "made")

    def __init__(self, create: Callable, ftype: FunctionType, handle=None, name: str | None = None):
        self.create = create
        nfixed = len(ftype.argtypes) if ftype.variadic else None
        self.sig = Signature(name or "function", ftype.restype, ftype.argtypes, nfixed)
        self.handle = handle
        self.name = name
        self.made: dict = {}

    def __call__(self, address: int):
        if not address:
            return None
        fn = self.made.get(address)
        if fn is None:
            sig = self.sig if self.name is not None else self.sig._replace(name=f"fn_0x{address:x}")
            fn = self.create(address, sig, handle=self.handle)
            if len(self.made) >= CACHE_LIMIT:
                self.made.clear()
            self.made[address] = fn
        return fn

    def __repr__(self) -> str:
        return f"<FunctionMaker {self.sig}>"


__all__ = ["CACHE_LIMIT", "FunctionMaker", "pointee_function"]
