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
from ..model.pointers import FunctionType, pointer_to
from ..model.scalars import VOID, Scalar, scalar
from ..model.signature import Signature
from .fastdecl import fast_signature

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
        return pointer_to(scalar(pointee), const, string=string == "s", wide=string == "w")
    t = scalar(text)
    if t is not None:
        return t
    named = ns.lookup(text)
    if named is not None:
        return named
    from . import parser   # pycparser is imported only when something is parsed

    return parser.type_from_text(spec, text, ns)


#: The pointer spellings the scalar table knows, as the typed pointers they are.
_POINTER_SPELLINGS = {"void *": ("void", False, ""), "const void *": ("void", True, ""),
                      "char *": ("char", False, "s"), "const char *": ("char", True, "s"),
                      "wchar_t *": ("wchar_t", False, "w"), "const wchar_t *": ("wchar_t", True, "w")}


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
    """Parse one C function declaration (cached by text on its namespace):
    the common shapes by :mod:`.fastdecl`, the rest by the C parser."""
    if not isinstance(text, str):
        raise TypeError(f"a declaration is a str, got {type(text).__name__}")
    ns = namespace_for(types)
    sig = ns.declared.get(text)
    if sig is None:
        sig = fast_signature(text, ns)
        if sig is None:
            from . import parser   # pycparser is imported only when something needs it

            sig = parser.function_signature(text, ns)
        sig = ns.cache(ns.declared, text, sig)
    return sig


#: The name of a callback's signature when its text declares none.
CALLBACK_NAME = "callback"


def parse_function_type(spec, types=None) -> Signature:
    """A callback's signature: a C function type (``"int(const void *, const
    void *)"``), a pointer to one (``"int (*)(const void *, const void *)"``),
    a declaration (``"int cmp(const void *a, const void *b)"``), a typedef
    name of a function-pointer type, a function-pointer type object, or
    ``(restype, argtypes)`` in the names :func:`make_signature` takes.  The
    signature is named as declared, else ``"callback"``.

    Variadic types are refused: a callback's arguments are read by its
    signature's moves, and the ``...`` part has none -- C code reads it with
    ``va_arg`` (C11 7.16), whose types only the callee's code states."""
    if isinstance(spec, tuple):
        if len(spec) != 2:
            raise TypeError(f"a callback signature tuple is (restype, argtypes), got {len(spec)} items")
        restype, argtypes = spec
        # Spelled in names only: cached as the text form is (a type object in the key could
        # be a struct class the cache would keep alive).
        key: tuple | None = None
        if isinstance(restype, str) and isinstance(argtypes, (list, tuple)) and all(
                isinstance(a, str) for a in argtypes):
            ns = namespace_for(types)
            key = (CALLBACK_NAME, restype, tuple(argtypes))
            found = ns.declared.get(key)
            if found is not None:
                return found
        sig = make_signature(CALLBACK_NAME, restype, argtypes, types)
        if sig.nfixed is not None:
            raise SignatureError(_variadic_refusal(CALLBACK_NAME))
        if key is not None:
            ns.cache(ns.declared, key, sig)
        return sig
    if isinstance(spec, Scalar) and isinstance(spec.pointee, FunctionType):
        name, ftype = None, spec.pointee
    elif isinstance(spec, str):
        ns = namespace_for(types)
        text_key = (CALLBACK_NAME, spec)   # apart from parse_declaration's entries for the same text
        found = ns.declared.get(text_key)
        if found is not None:
            return found
        from . import parser   # pycparser is imported only when something is parsed

        name, ftype = parser.function_type(spec, ns)
    else:
        raise TypeError(f"a callback signature is a C function type, a declaration or (restype, argtypes), "
                        f"got {type(spec).__name__}")
    if ftype.variadic:
        raise SignatureError(_variadic_refusal(name or CALLBACK_NAME))
    sig = Signature(name or CALLBACK_NAME, ftype.restype, ftype.argtypes)
    if isinstance(spec, str):
        ns.cache(ns.declared, text_key, sig)
    return sig


def _variadic_refusal(name: str) -> str:
    # docs/errors.md's wording (tiers/callback.py refuses a variadic Signature the same way).
    return (f"callback {name!r}: a variadic callback cannot read its arguments "
            f"(C has no portable va_list from a callee's side)")


def declared_names(text: str, types=None) -> tuple:
    """The parameter names a declaration gives (None for an unnamed one), in order."""
    from . import parser

    return parser.parameter_names(text, namespace_for(types))


__all__ = ["IDENT", "namespace_for", "normalize", "resolve_type", "resolve_field_type", "make_signature",
           "parse_declaration", "parse_function_type", "declared_names"]
