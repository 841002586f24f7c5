"""From what people write to types: type specifications and signatures.

Two forms are accepted everywhere a signature is:

* ``(name, restype, argtypes)`` where each type is a canonical name (``"i32"``),
  a C spelling (``"unsigned long"``, ``"const char *"``, ``"FILE *"``), a name
  of the namespace (``"pid_t"``, ``"struct stat"``) or a type object (a scalar,
  a struct/union class);
* one C declaration, ``"unsigned long crc32(unsigned long, const unsigned char *, unsigned)"``.

Simple spellings resolve here by table; C text that needs a parser (a
declaration, ``"const struct point *"``) goes to :mod:`fastffi.cdecl.parser`,
which imports pycparser on first use.  Both are cached by text on the
namespace, which clears its caches whenever a name changes."""
from __future__ import annotations

import re
from typing import Any, Mapping

from ..errors import SignatureError
from ..model.namespace import DEFAULT, IDENT, Namespace, is_aggregate, overlay
from ..model.pointers import pointer_to
from ..model.scalars import VOID, Scalar, scalar
from ..model.signature import Signature

_ARRAY_SUFFIX = re.compile(r"^(.*?)\s*\[\s*(\d+)\s*\]$", re.S)
_STAR = re.compile(r"\s*\*\s*")


def namespace_for(types: "Mapping | Namespace | None") -> Namespace:
    """The namespace a call resolves names in: the default one, or a
    ``types=`` mapping over it."""
    if types is None:
        return DEFAULT
    if isinstance(types, Namespace):
        return types
    if not isinstance(types, Mapping):
        raise TypeError(f"types= must be a mapping of names to types, got {type(types).__name__}")
    return overlay(types, resolve_type) if types else DEFAULT


def normalize(text: str) -> str:
    text = _STAR.sub(" *", text.strip())
    return " ".join(text.replace(" *", " * ").split()).replace(" * ", " *").replace("* *", "**")


def resolve_type(spec, types=None, *, value_only: bool = False):
    """A type specification -> :class:`Scalar`, ``VOID`` or a struct/union class.

    ``value_only`` refuses ``void`` (for things that hold a value)."""
    if spec.__class__ is str and types is None:
        # The common case first: a type string seen before.
        t = DEFAULT.resolved.get(spec)
        if t is not None and not (value_only and t is VOID):
            return t
    if is_aggregate(spec):
        return spec
    if isinstance(spec, Scalar):
        t = spec
    elif isinstance(spec, str):
        ns = namespace_for(types)
        # Type strings repeat (new("i32"), read(p, "u8"), argument lists): the
        # answer depends only on the text and the names, cached on the namespace.
        t = ns.resolved.get(spec)
        if t is None:
            t = ns.cache(ns.resolved, spec, _resolve_text(spec, ns))
    else:
        raise SignatureError(f"a type is a name, a C spelling or a struct class, got {spec!r}")
    if value_only and t is VOID:
        raise SignatureError("void has no values")
    return t


def _resolve_text(spec: str, ns: Namespace) -> Any:
    text = normalize(spec)
    typed = _POINTER_SPELLINGS.get(text)
    if typed is not None:
        pointee, const, string = typed
        return pointer_to(scalar(pointee), const, string=string)
    t = scalar(text)
    if t is not None:
        return t
    named = ns.lookup(text)
    if named is not None:
        return named
    from . import parser   # pycparser is imported only when something is parsed

    return parser.type_from_text(spec, text, ns)


#: The pointer spellings the scalar table knows, as the typed pointers they are.
_POINTER_SPELLINGS = {"void *": ("void", False, False), "const void *": ("void", True, False),
                      "char *": ("char", False, True), "const char *": ("char", True, True)}


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


def make_signature(name: str, restype, argtypes, types=None) -> Signature:
    """Resolve the (name, restype, argtypes) form."""
    if isinstance(argtypes, (str, bytes)) or not hasattr(argtypes, "__iter__"):
        raise TypeError(f"argtypes must be a sequence of types, got {type(argtypes).__name__}")
    ns = namespace_for(types) if types is not None else None
    argtypes = list(argtypes)
    nfixed = None
    if argtypes and argtypes[-1] is Ellipsis:
        # [fixed..., ...]: a variadic function, as `...` in a declaration.
        argtypes.pop()
        nfixed = len(argtypes)
        if not nfixed:
            raise SignatureError(f"{name}: a variadic function needs at least one fixed argument (C11 6.7.6.3)")
    if Ellipsis in argtypes:
        raise SignatureError(f"{name}: ... (Ellipsis) must be the last argument type")
    args = tuple([resolve_type(t, ns) for t in argtypes])
    if VOID in args:
        raise SignatureError("void is not a valid argument type")
    return Signature(name, resolve_type(restype, ns), args, nfixed)


def parse_declaration(text: str, types=None) -> Signature:
    """Parse one C function declaration (cached by text on its namespace)."""
    from . import parser   # pycparser is imported only when something is parsed

    if not isinstance(text, str):
        raise TypeError(f"a declaration is a str, got {type(text).__name__}")
    ns = namespace_for(types)
    sig = ns.declared.get(text)
    if sig is None:
        sig = ns.cache(ns.declared, text, parser.function_signature(text, ns))
    return sig


def declared_names(text: str, types=None) -> tuple:
    """The parameter names a declaration gives (None for an unnamed one), in order."""
    from . import parser

    return parser.parameter_names(text, namespace_for(types))


__all__ = ["IDENT", "namespace_for", "normalize", "resolve_type", "resolve_field_type", "make_signature",
           "parse_declaration", "declared_names"]
