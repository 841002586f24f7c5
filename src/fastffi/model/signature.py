"""A resolved function signature: the one description of a call every tier reads."""
from __future__ import annotations

from typing import Any, NamedTuple

from .layout import type_key
from .scalars import Scalar


class Signature(NamedTuple):
    """Types are :class:`~fastffi.model.scalars.Scalar` (``VOID`` included,
    pointer types too) or struct/union classes.

    A NamedTuple: the per-signature caches hash and compare it at every
    function creation, in C.  ``nfixed`` is the number of fixed arguments of a
    variadic function (None: not variadic); ``convention`` names the calling
    convention (``"c"``: the platform's C convention).  Both default, so a
    (name, restype, argtypes) signature is still three values."""

    name: str
    restype: Any
    argtypes: tuple
    nfixed: int | None = None
    convention: str = "c"

    def __str__(self) -> str:
        names = [type_name(t) for t in self.argtypes]
        if self.nfixed is not None:
            # The variadic part after `...`: `int printf(string, ..., i64, f64)`.
            names.insert(self.nfixed, "...")
        return f"{type_name(self.restype)} {self.name}({', '.join(names)})"

    def call_key(self) -> tuple:
        """What the tiers' per-signature caches are keyed by: everything the
        call depends on (names included, for explain()), but no class -- so a
        cache entry never keeps a struct class alive.  A signature of
        canonical scalars only is its own key (the common case, hashed in C)."""
        for t in self.argtypes:
            if t.__class__ is not Scalar or t.pointee is not None:
                break
        else:
            t = self.restype
            if t.__class__ is Scalar and t.pointee is None:
                return self
        return (self.name, type_key(self.restype), tuple([type_key(t) for t in self.argtypes]),
                self.nfixed, self.convention)


def type_name(t) -> str:
    """The public name of a type: the canonical name, or the class name."""
    return t.name if isinstance(t, Scalar) else t.__name__


__all__ = ["Signature", "type_name"]
