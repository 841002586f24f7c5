"""Namespaces: the names C text refers to types by, and the caches that
depend on them.

C keeps ordinary identifiers (typedef names among them) apart from the tags
of structs, unions and enums (C11 6.2.3), so a namespace does too: after
``define("stat", Stat)`` both ``stat`` and ``struct stat`` name the class, and a
function may still be called ``stat``.

The default namespace (:data:`DEFAULT`) is what ``fastffi.define`` changes and
what every declaration sees; it starts with the C library's scalar typedefs
(:mod:`fastffi.model.typedefs`).  A ``types=`` mapping becomes a child
namespace over it for one call.  Text caches live here, bounded, and are
cleared whenever a name changes -- so a cached parse never outlives the names
it was made with."""
from __future__ import annotations

import re
import threading
from typing import Any

from ..errors import SignatureError
from .layout import type_key
from .scalars import SCALARS, Scalar
from .typedefs import POSIX_TYPEDEFS

TAG_KINDS = ("struct", "union", "enum")
#: what a name in a namespace looks like (C11 6.4.2.1, ASCII)
IDENT = re.compile(r"[A-Za-z_]\w*")
#: entries a text cache holds before it starts again from empty
CACHE_LIMIT = 4096


class Namespace:
    """Typedef names and tags, with an optional parent consulted for what this
    namespace does not define."""

    def __init__(self, parent: "Namespace | None" = None):
        self.parent = parent
        self._typedefs: dict[str, Any] = {}
        self._tags: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        #: type text -> type, and declaration text -> Signature (see cache()); a
        #: callback's declaration is keyed (CALLBACK_NAME, text), apart from a function's,
        #: and its (restype, argtypes) in names (CALLBACK_NAME, restype, argtypes)
        self.resolved: dict[str, Any] = {}
        self.declared: dict[str | tuple, Any] = {}

    # ---- lookups (parent chain) ----

    def _find(self, table: str, key):
        ns: Namespace | None = self
        while ns is not None:
            found = getattr(ns, table).get(key)
            if found is not None:
                return found
            ns = ns.parent
        return None

    def typedef(self, name: str):
        return self._find("_typedefs", name)

    def tag(self, kind: str, name: str):
        return self._find("_tags", (kind, name))

    def lookup(self, text: str):
        """The type ``text`` names when it is one name: ``"pid_t"``,
        ``"struct stat"``, ``"enum color"``; else None."""
        kind, _, name = text.partition(" ")
        if name and kind in TAG_KINDS and " " not in name:
            return self.tag(kind, name)
        return self.typedef(text) if not name else None

    # ---- changes ----

    def define_typedef(self, name: str, t) -> None:
        with self._lock:
            _check_redefinition(name, self._typedefs.get(name), t)
            self._typedefs[name] = t
            self._changed()

    def define_tag(self, kind: str, name: str, t) -> None:
        with self._lock:
            _check_redefinition(f"{kind} {name}", self._tags.get((kind, name)), t)
            self._tags[kind, name] = t
            self._changed()

    def undefine(self, name: str) -> None:
        """Remove ``name`` as a typedef and as every tag."""
        with self._lock:
            self._typedefs.pop(name, None)
            for kind in TAG_KINDS:
                self._tags.pop((kind, name), None)
            self._changed()

    def undefine_tag(self, kind: str, name: str) -> None:
        with self._lock:
            self._tags.pop((kind, name), None)
            self._changed()

    def _changed(self) -> None:
        self.resolved.clear()
        self.declared.clear()

    # ---- caches ----

    def cache(self, table: dict, key, value):
        """Store ``value`` under ``key`` in one of this namespace's text caches,
        starting the cache afresh when it is full."""
        if len(table) >= CACHE_LIMIT:
            table.clear()
        table[key] = value
        return value


def _check_redefinition(name: str, old, new) -> None:
    """A name may be defined again only as the same type (or one laid out
    the same, for aggregates)."""
    if old is None or old is new:
        return
    if old.__class__ is Scalar or new.__class__ is Scalar:
        if old.__class__ is new.__class__ and old.key is new.key:
            return
    elif type_key(old)[1:] == type_key(new)[1:]:   # the layout, whatever the class is called
        return
    raise SignatureError(f"{name!r} is already defined with a different layout")


def overlay(types, resolve) -> Namespace:
    """A child of :data:`DEFAULT` holding a ``types=`` mapping for one call:
    ``name -> type``, where a struct/union class names both ``name`` and its
    tag, ``"struct name"``/``"union name"``/``"enum name"`` only the tag, and any
    other type is a typedef.  ``resolve(spec, ns)`` turns each value into a type."""
    ns = Namespace(DEFAULT)
    for name, spec in types.items():
        if not isinstance(name, str):
            raise TypeError(f"types= maps names (str) to types, got the key {name!r}")
        t = resolve(spec, DEFAULT)
        kind, _, tag = name.partition(" ")
        if tag and kind in TAG_KINDS:
            ns._tags[kind, tag] = t
            continue
        ns._typedefs[name] = t
        if is_aggregate(t):
            ns._tags["union" if t._layout_.is_union else "struct", name] = t
    return ns


def is_aggregate(t) -> bool:
    return isinstance(t, type) and hasattr(t, "_layout_")


def _default() -> Namespace:
    ns = Namespace()
    for name, canonical in POSIX_TYPEDEFS.items():
        ns._typedefs[name] = SCALARS[canonical]
    return ns


#: The namespace fastffi.define changes and every declaration sees.
DEFAULT = _default()

__all__ = ["Namespace", "DEFAULT", "IDENT", "TAG_KINDS", "overlay", "is_aggregate"]
