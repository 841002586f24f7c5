"""Signatures and type specifications: from what people write to types.

Two forms are accepted everywhere a signature is:

* ``(name, restype, argtypes)`` where each type is a canonical name (``"i32"``),
  a C spelling (``"unsigned long"``, ``"const char *"``, ``"FILE *"``) or a
  struct/union class;
* one C declaration, ``"unsigned long crc32(unsigned long, const unsigned char *, unsigned)"``.

Simple spellings resolve here by table; C text that needs a parser (a
declaration, ``"const struct point *"``) goes to :mod:`fastffi.declarations`,
which imports pycparser on first use.  Both are cached by text while the
registry of named structs is unchanged."""
from __future__ import annotations

import functools
import re
import threading
from typing import Any, NamedTuple

from .errors import SignatureError
from .types import VOID, Scalar, scalar

# ---- the registry of named aggregates (fastffi.define) ----

_registry: dict[str, type] = {}
_registry_lock = threading.Lock()
#: resolve_type's cache of type strings, and parse_declaration's of whole
#: declarations: valid while the registry is unchanged (define/undefine clear them)
_resolved: dict[str, Any] = {}
_declared: dict[str, "Signature"] = {}


def define(name: str, cls: type) -> None:
    """Register a struct/union class under ``name`` for declaration strings:
    both ``"name"`` and ``"struct name"`` (or ``"union name"``) then resolve to it.

    Redefining a name with a class of the same layout is allowed; a different
    layout raises :class:`SignatureError`."""
    from .structs import CStruct, CUnion

    if not (isinstance(cls, type) and issubclass(cls, CStruct)):
        raise TypeError(f"define() expected a struct or union class, got {cls!r}")
    if not _IDENT.fullmatch(name):
        raise ValueError(f"define(): {name!r} is not a C identifier")
    tag = "union" if issubclass(cls, CUnion) else "struct"
    with _registry_lock:
        old = _registry.get(name)
        if old is not None and old is not cls and not _same_layout(old, cls):
            raise SignatureError(f"{name!r} is already defined with a different layout")
        _registry[name] = cls
        _registry[f"{tag} {name}"] = cls
        _resolved.clear()
        _declared.clear()


def undefine(name: str) -> None:
    """Remove a registered name (both spellings)."""
    with _registry_lock:
        for key in (name, f"struct {name}", f"union {name}"):
            _registry.pop(key, None)
        _resolved.clear()
        _declared.clear()


def _same_layout(a, b) -> bool:
    la, lb = a._layout_, b._layout_

    def shape(lay):
        return (lay.is_union, lay.size, lay.align,
                tuple((f.name, f.offset, f.count, f.type.name if isinstance(f.type, Scalar) else shape(f.type._layout_))
                      for f in lay.fields))

    return shape(la) == shape(lb)


def _lookup_named(name: str, types) -> Any:
    if types:
        found = types.get(name)
        if found is None and name.startswith(("struct ", "union ")):
            found = types.get(name.split(" ", 1)[1])
        if found is not None:
            return found
    return _registry.get(name)


# ---- simple spellings, without the parser ----

_IDENT = re.compile(r"[A-Za-z_]\w*")
_ARRAY_SUFFIX = re.compile(r"^(.*?)\s*\[\s*(\d+)\s*\]$", re.S)
_STAR = re.compile(r"\s*\*\s*")


def _normalize(text: str) -> str:
    text = _STAR.sub(" *", text.strip())
    return " ".join(text.replace(" *", " * ").split()).replace(" * ", " *").replace("* *", "**")


def _is_aggregate(t) -> bool:
    return isinstance(t, type) and issubclass(t, _cstruct())


@functools.lru_cache(maxsize=None)
def _cstruct():
    from .structs import CStruct  # structs imports this module: resolved on first use

    return CStruct


def resolve_type(spec, types=None, *, value_only: bool = False):
    """A type specification -> :class:`Scalar`, ``VOID`` or a struct/union class.

    ``value_only`` refuses ``void`` (for things that hold a value)."""
    if spec.__class__ is str and not types:
        # The common case first: a type string seen before.
        t = _resolved.get(spec)
        if t is not None and not (value_only and t is VOID):
            return t
    if _is_aggregate(spec):
        return spec
    if isinstance(spec, Scalar):
        t = spec
    elif isinstance(spec, str):
        # Type strings repeat (new("i32"), read(p, "u8"), argument lists): the
        # answer depends only on the text and the registry, unless types= is given.
        t = _resolved.get(spec) if not types else None
        if t is None:
            t = _resolve_text(spec, types)
            if not types:
                _resolved[spec] = t
    else:
        raise SignatureError(f"a type is a name, a C spelling or a struct class, got {spec!r}")
    if value_only and t is VOID:
        raise SignatureError("void has no values")
    return t


def _resolve_text(spec: str, types) -> Any:
    text = _normalize(spec)
    t = scalar(text)
    if t is not None:
        return t
    named = _lookup_named(text, types)
    if named is not None:
        return named
    from . import declarations   # pycparser is imported only when something is parsed

    return declarations.type_from_text(spec, text, types)


def resolve_field_type(spec, types=None) -> tuple[Any, int | None]:
    """A struct field's type: ``type``, ``(type, n)`` or ``"type[n]"``."""
    if isinstance(spec, tuple):
        if len(spec) != 2 or not isinstance(spec[1], int) or spec[1] < 0:
            raise SignatureError(f"an array field is (type, n) with n >= 0, got {spec!r}")
        return resolve_type(spec[0], types, value_only=True), spec[1]
    if isinstance(spec, str):
        m = _ARRAY_SUFFIX.match(spec.strip())
        if m:
            return resolve_type(m.group(1), types, value_only=True), int(m.group(2))
    return resolve_type(spec, types, value_only=True), None


# ---- signatures ----

class Signature(NamedTuple):
    """A resolved signature: types are Scalar, VOID or struct/union classes.
    A NamedTuple: the per-signature caches (plan, shape, encoding) hash and
    compare it at every function creation, in C."""

    name: str
    restype: Any
    argtypes: tuple

    def __str__(self) -> str:
        return f"{type_name(self.restype)} {self.name}({', '.join(map(type_name, self.argtypes))})"


def type_name(t) -> str:
    """The public name of a type: the canonical name, or the class name."""
    return t.name if isinstance(t, Scalar) else t.__name__


def make_signature(name: str, restype, argtypes, types=None) -> Signature:
    """Resolve the (name, restype, argtypes) form."""
    if isinstance(argtypes, (str, bytes)) or not hasattr(argtypes, "__iter__"):
        raise TypeError(f"argtypes must be a sequence of types, got {type(argtypes).__name__}")
    args = tuple([resolve_type(t, types) for t in argtypes])
    if VOID in args:
        raise SignatureError("void is not a valid argument type")
    return Signature(name, resolve_type(restype, types), args)


def parse_declaration(text: str, types=None) -> Signature:
    """Parse one C function declaration (cached by text while the registry is unchanged)."""
    from . import declarations   # pycparser is imported only when something is parsed

    if not isinstance(text, str):
        raise TypeError(f"a declaration is a str, got {type(text).__name__}")
    if not types:
        sig = _declared.get(text)
        if sig is None:
            if len(_declared) >= 4096:
                _declared.clear()
            sig = _declared[text] = declarations.function_signature(text, None)
        return sig
    return declarations.function_signature(text, types)


__all__ = ["Signature", "make_signature", "type_name", "define", "undefine", "parse_declaration", "resolve_type", "resolve_field_type"]
