"""What a call checks of each pointer argument beyond its kind, decided once
per signature: the ``argchecks`` and ``argpointees`` of the function spec,
read by the C core's converters (``_core/runtime/convert.h``, ``ARG_*``).

* const-ness: a pointer whose pointee is not const (``void *``, ``int *``,
  ``char *``) may be written through, so bytes and other read-only buffers
  are refused, and a str for a non-const ``char *`` is passed as a fresh copy
  (CPython hands out a str's own buffer: C writing into it would change every
  use of an interned or constant str).  The list form's ``"pointer"`` and
  ``"string"`` name no pointee and carry no const-ness: they take bytes as
  they always have, and the C side must not write through them; a C
  declaration (or a C spelling such as ``"const void *"``) is how to get
  the check.
* ``const char *`` (and the list form's ``"string"``): a buffer other than
  bytes or bytearray must hold a NUL within its length.
* a known pointee ``T``: a fastffi object must hold a ``T`` (its class, an
  array of it, or a box or array of a compatible scalar: :func:`_holders`),
  and a buffer at least ``sizeof(T)`` bytes -- an empty one passes where the
  pointee is const (a length of 0 reads nothing), not where C may write
  through it (``_core/runtime/convert.c``: check_buffer_size).  A buffer's item
  format is not checked (bytes are bytes to C).  ``void *``, pointers to
  character types and to opaque types take any.
* a function pointer (``int (*)(const void *, const void *)``): a
  ``Callback`` must have the parameter's signature -- compared by function
  key, typedefs resolved, const and names ignored -- and a plain Python
  callable is wrapped in a temporary Callback of that signature for the call
  only (``_core.ARG_FUNCTION``; the description carries the key, the
  signature for messages and the maker, one per parameter type).  Ints,
  None, Functions and fastffi objects pass as for any pointer; for a
  ``void *`` any Callback passes."""
from __future__ import annotations

import weakref
from typing import Any, Callable

from .. import _core
from ..model.aggregates import array_class, box_class
from ..model.namespace import is_aggregate
from ..model.pointers import FunctionType, function_key
from ..model.scalars import SCALARS, VOID, Scalar
from ..model.signature import Signature, type_name

BYTES_SLOW = _core.ARG_BYTES_SLOW
MUTABLE = _core.ARG_MUTABLE
NUL = _core.ARG_NUL
TYPED = _core.ARG_TYPED
FUNCTION = _core.ARG_FUNCTION

_STRING = SCALARS["string"].kind
_WSTRING = SCALARS["wstring"].kind
_POINTER_KINDS = (SCALARS["pointer"], SCALARS["string"])

#: pointer type -> (flags, pointee description or None).  Pointer types are
#: interned and live as long as something uses them; a description holds
#: only what its pointer type already keeps alive (the pointee's classes).
_cache: "weakref.WeakKeyDictionary[Scalar, tuple]" = weakref.WeakKeyDictionary()


def argument_checks(argtypes) -> tuple[bytes, tuple]:
    """(argchecks, argpointees) for a signature's argument types."""
    flags = bytearray(len(argtypes))
    pointees = [None] * len(argtypes)
    for i, t in enumerate(argtypes):
        if t.__class__ is not Scalar:
            continue
        if t.pointee is None:
            if t.kind == _STRING:
                flags[i] = NUL   # "string" means const char *
            continue
        hit = _cache.get(t)
        if hit is None:
            hit = _cache[t] = _pointer_checks(t)
        flags[i], pointees[i] = hit
    return bytes(flags), tuple(pointees)


def _pointer_checks(t: Scalar) -> tuple[int, tuple | None]:
    flags = 0 if t.const else MUTABLE | BYTES_SLOW
    if isinstance(t.pointee, FunctionType):
        return flags | FUNCTION, function_description(t.pointee)
    if t.kind == _STRING:   # char *: any memory; a const one is read up to a NUL
        return flags | (NUL if t.const else 0), None
    if t.kind == _WSTRING:   # wchar_t *: a str is copied; any memory otherwise
        return flags, None
    described = pointee_description(t.pointee)
    if described is None:
        return flags, None
    if described[2] > 1:
        flags |= BYTES_SLOW   # a bytes argument is size-checked
    return flags | TYPED, described


def pointee_description(p) -> tuple | None:
    """(pointee name, parameter name, sizeof pointee, classes that hold one),
    or None when any memory will do."""
    holders = _holders(p)
    if holders is None:
        return None
    name = pointee_name(p)
    return name, name + ("*" if name.endswith("*") else " *"), _size(p), holders


def function_description(ftype: FunctionType) -> tuple:
    """(function key, signature text, wrap) for a function-pointer
    parameter: ``wrap(func)`` makes the temporary Callback a plain callable
    passed for it runs as, for one call (``_core/runtime/convert.c``)."""
    return function_key(ftype), function_pointer_name(ftype), _wrapper(ftype)


def function_pointer_name(ftype: FunctionType) -> str:
    """``i32 (*)(pointer, pointer)``: a function-pointer parameter's type in
    messages, in the names ``cb.signature`` uses."""
    args = [type_name(a) for a in ftype.argtypes] + (["..."] if ftype.variadic else [])
    return f"{type_name(ftype.restype)} (*)({', '.join(args)})"


#: temporary_maker(signature) -> make(func) -> Callback, set by
#: tiers/callback.py when it is imported (fastffi's import does): that module
#: sits above this one (it imports tiers/selection.py, which imports this),
#: so it is handed in rather than imported.
temporary_maker: Callable[[Signature], Callable[[Any], Any]] | None = None


def _wrapper(ftype: FunctionType):
    """wrap(func) for one parameter type: the Callback's spec is decided on
    the first call and reused (a call then costs one make_callback)."""
    sig = Signature("callback", ftype.restype, tuple(ftype.argtypes))
    made = None

    def wrap(func):
        nonlocal made
        if made is None:
            assert temporary_maker is not None, "tiers/callback.py sets it when fastffi is imported"
            made = temporary_maker(sig)
        return made(func)
    return wrap


def pointee_name(p) -> str:
    """How messages name a pointee: the canonical name (``i32``), the class
    name (``Stat``), a pointer type by its pointee (``Stat *``, ``void *``,
    ``char *``)."""
    if is_aggregate(p):
        return p.__name__
    if p is VOID:
        return "void"
    if isinstance(p, Scalar):
        if p.pointee is None:
            return p.name
        if p.kind == _STRING:
            inner = "char"
        elif p.kind == _WSTRING:
            inner = "wchar_t"
        else:
            inner = pointee_name(p.pointee)
        return inner + ("*" if inner.endswith("*") else " *")
    return str(p)


def _size(p) -> int:
    return p._size_ if is_aggregate(p) else p.size


def _holders(p) -> tuple | None:
    """The fastffi classes whose instances hold a ``p``.  Signedness is free
    (``Box[u32]`` serves an ``int *``): C11 6.5p7 lets an object be accessed
    through the signed or unsigned type of its width, so the callee reads
    and writes exactly the box's bytes, and the box reads back what C stored
    as a cast would.  Everything else must match: the size (C would write
    past a smaller box), integer against float (no such aliasing rule), bool
    only for bool (C reads any other byte as a trap value).  Character types
    alias everything (6.5p7 again) and take any memory, as ``void *`` does."""
    if is_aggregate(p):
        return (p, array_class(p))
    if p is VOID or not isinstance(p, Scalar):
        return None   # void, an opaque type, a function
    elems: tuple[Scalar, ...]
    if p.pointee is not None or p.kind in (SCALARS["pointer"].kind, _STRING):
        elems = _POINTER_KINDS   # T **: any pointer box or array
    elif p.is_float:
        elems = (p.key,)
    elif p.is_wide:   # c64/c128/longdouble: exactly that type
        elems = (p.key,)
    elif p.name == "bool":
        elems = (p,)
    elif p.size == 1:
        return None   # signed/unsigned char: bytes of anything
    else:
        bits = 8 * p.size
        elems = (SCALARS[f"i{bits}"], SCALARS[f"u{bits}"])
    return tuple([c for e in elems for c in (box_class(e), array_class(e))])


__all__ = ["argument_checks", "function_description", "pointee_description", "pointee_name", "BYTES_SLOW",
           "MUTABLE", "NUL", "TYPED", "FUNCTION"]
