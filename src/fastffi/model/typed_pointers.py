"""Typed pointers read from C: a result or a struct field declared ``T *``
for a struct or union ``T`` reads as a :class:`Pointer` -- an ``int`` (the
address: it compares, hashes and passes as one) that also knows ``T``, so
``p[0]``, ``p[i]`` and ``p.contents`` are live views of the ``T`` there.

The class of ``T *`` is made once per pointee (kept on the struct class, as
its array classes are), never per call: a Function whose result is ``T *``
is handed the class at creation, and its result converter calls it only when
that flag was set (``_core.TYPED_POINTER_RESULT``).

A pointee may be a name only (:class:`~fastffi.model.pointers.Opaque`): C
lets ``struct addrinfo { ...; struct addrinfo *ai_next; }`` point to a type
completed later in the same scope (C11 6.2.5p22, 6.7.2.3p4), so the name is
looked up when the pointer is read -- in the header that declared it, or in
the default namespace.  A pointer to a type nothing defines (``DIR *``,
``sqlite3_stmt *``, ``FILE *``: handles C keeps opaque on purpose) has nothing
to view and reads as a plain int, as ``void *`` does: :func:`result_class`
decides that once per result type, at a function's creation, so such a call
pays nothing for typed pointers."""
from __future__ import annotations

import operator
import threading
from typing import Any, Callable, Generic, TypeVar

from .. import _core
from .namespace import DEFAULT
from .pointers import Opaque
from .scalars import Scalar

_view = _core.cdata_view
T = TypeVar("T")

#: resolve(name) -> the struct/union class ``name`` names, or None
Resolve = Callable[[str], Any]


class Pointer(int, Generic[T]):
    """A typed pointer: the address, as an ``int``, and the type it points
    to.  Arithmetic gives plain ints; ``bool(p)`` is False for NULL."""

    __slots__ = ()
    #: the pointee: a struct/union class
    _type_: Any = None
    #: the C spelling of the pointer type, for messages and repr
    _spelling_: str = "void *"

    def __class_getitem__(cls, item):
        # For a struct/union class, the class a T * reads as: Pointer[T](address)
        # is then a typed pointer (typing's alias would make a Pointer of no
        # pointee).  A type variable or a name stays typing's, for annotations.
        if cls is Pointer and isinstance(item, type) and hasattr(item, "_layout_"):
            return pointer_class(item)
        return getattr(super(), "__class_getitem__")(item)

    def __getitem__(self, index) -> T:
        t = self._type_
        i = operator.index(index)
        if t is None:
            raise TypeError("a fastffi.Pointer with no pointee type cannot be dereferenced; "
                            "use fastffi.Pointer[T](address) with T a struct or union class")
        if not self:
            raise ValueError(f"cannot dereference a NULL {self._spelling_}")
        size = t._size_
        return _view(t, int(self) + i * size, size)

    @property
    def contents(self) -> T:
        """The ``T`` this points to, a live view (``p[0]``)."""
        return self[0]

    def __repr__(self) -> str:
        return f"<{self._spelling_} 0x{int(self):x}>"

    # int's own methods would keep the subclass out of these: they must not
    # (a pickled or copied pointer is the address).
    def __reduce__(self):
        return (int, (int(self),))


def _default_resolve(name: str):
    t = DEFAULT.lookup(name)
    return t if isinstance(t, type) and hasattr(t, "_layout_") else None


def is_typed_pointee(pointee) -> bool:
    """Whether a pointer to ``pointee`` reads as a :class:`Pointer`: a
    struct/union class, or a struct/union/typedef name (Opaque) -- never
    ``void``, a scalar, ``char`` or a function."""
    if isinstance(pointee, Opaque):
        return not pointee.name.startswith("enum ")
    return isinstance(pointee, type) and hasattr(pointee, "_layout_")


def typed_pointee(t):
    """The pointee of ``t`` when ``t`` is a typed pointer type, else None."""
    if t.__class__ is Scalar and t.kind == _POINTER and t.pointee is not None and is_typed_pointee(t.pointee):
        return t.pointee
    return None


_POINTER = _core.KINDS["pointer"][0]
_lock = threading.Lock()


def result_class(t, resolve: Resolve | None = None) -> "type[Pointer] | None":
    """What a ``t`` read from C is made with: the Pointer class of a typed
    pointer type whose pointee is, or resolves now to, a struct/union class;
    None (a plain int) for any other type, an incomplete pointee included."""
    pointee = typed_pointee(t)
    if pointee is None:
        return None
    if isinstance(pointee, Opaque):
        pointee = (resolve or _default_resolve)(pointee.name)
        if pointee is None:
            return None
    return pointer_class(pointee)


def pointer_class(pointee) -> type[Pointer]:
    """The :class:`Pointer` class of ``pointee *`` for a struct/union class,
    made once per pointee."""
    cls = pointee.__dict__.get("_pointer_class_")
    if cls is None:
        with _lock:
            cls = pointee.__dict__.get("_pointer_class_")
            if cls is None:
                cname = f"{'union' if pointee._layout_.is_union else 'struct'} {pointee.__name__}"
                cls = _make(pointee, cname)
                # On the struct class: the pointer class lives exactly as long as it does.
                type.__setattr__(pointee, "_pointer_class_", cls)
    return cls


def _make(pointee, cname: str):
    spelling = f"{cname} *"
    return type(f"Pointer[{cname}]", (Pointer,), {"__slots__": (), "_type_": pointee, "_spelling_": spelling,
                                                   "__doc__": f"C {spelling}: an address (int) with p[i], p.contents"})


__all__ = ["Pointer", "is_typed_pointee", "pointer_class", "result_class", "typed_pointee"]
