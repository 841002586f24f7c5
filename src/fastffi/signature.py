"""Signatures and type specifications: from what people write to types.

Two forms are accepted everywhere a signature is:

* ``(name, restype, argtypes)`` where each type is a canonical name (``"i32"``),
  a C spelling (``"unsigned long"``, ``"const char *"``, ``"FILE *"``) or a
  struct/union class;
* one C declaration, ``"unsigned long crc32(unsigned long, const unsigned char *, unsigned)"``.

C text is parsed with pycparser.  Identifiers the parser has never seen are
declared as opaque struct types first when they stand where a type must
(``sqlite3 **db``, ``FILE *``), so pointers to them parse; using one by value
is refused with a caret under it.  Parses are cached by text."""
from __future__ import annotations

import functools
import re
import threading

from typing import Any, NamedTuple

from pycparser import c_ast, c_parser

from .errors import SignatureError
from .types import C_SPELLINGS, SCALARS, VOID, Scalar, scalar

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
    if _IDENT.fullmatch(text) and text not in _C_KEYWORDS:
        raise SignatureError(f"unknown type {spec!r}")
    return _type_from_ast(*_parse_type_text(text, _known_names(text, types)), types)


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


# ---- C declarations ----

_C_KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline int
long register restrict return short signed sizeof static struct switch typedef union unsigned void
volatile while _Bool _Complex _Atomic _Noreturn _Alignas _Alignof _Thread_local __restrict
__restrict__ __inline __inline__ __extension__ __const
""".split())

#: Single-word spellings that are typedefs rather than keywords.
_BUILTIN_TYPEDEFS = tuple(sorted(k for k in C_SPELLINGS if _IDENT.fullmatch(k) and k not in _C_KEYWORDS))
_PREAMBLE = "".join(f"typedef int {name};\n" for name in _BUILTIN_TYPEDEFS)
_PREAMBLE_LINES = _PREAMBLE.count("\n")

# Order in which multi-word specifiers are spelled in C_SPELLINGS.
_SPECIFIER_ORDER = {w: i for i, w in enumerate(["signed", "unsigned", "short", "long", "char", "int", "float",
                                                "double", "_Bool", "void"])}


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


def _tokens(text: str) -> list[str]:
    return re.findall(r"[A-Za-z_]\w*|\d+|\.\.\.|\S", text)


def _known_names(text: str, types) -> frozenset[str]:
    """Registered/`types=` names that occur in ``text`` (part of the parse's cache key)."""
    names = set()
    for tok in set(_tokens(text)):
        if _lookup_named(tok, types) is not None:
            names.add(tok)
    return frozenset(names)


def _opaque_names(toks: list[str], known: frozenset[str]) -> set[str]:
    """Identifiers standing where only a type can: followed by an identifier or
    ``*`` (``FILE *f``, ``sqlite3 **db``), or alone between ``(``/``,`` and
    ``)``/``,`` in a parameter list -- and not after struct/union/enum."""
    found = set()
    for i, tok in enumerate(toks):
        if not _IDENT.fullmatch(tok) or tok in _C_KEYWORDS or tok in known or tok in _BUILTIN_TYPEDEFS:
            continue
        prev = toks[i - 1] if i else ""
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if prev in ("struct", "union", "enum"):
            continue
        if nxt == "*" or (_IDENT.fullmatch(nxt) and nxt not in ("const", "volatile", "restrict")) \
                or (prev in ("(", ",") and nxt in (")", ",") and i > 1):
            found.add(tok)
    return found


_parser_local = threading.local()


def _parser() -> c_parser.CParser:
    # CParser keeps state while parsing: one per thread.
    p = getattr(_parser_local, "parser", None)
    if p is None:
        p = _parser_local.parser = c_parser.CParser()
    return p


def _parse(source_line: str, known: frozenset[str]):
    toks = _tokens(source_line)
    opaque = _opaque_names(toks, known)
    extra = "".join(f"typedef struct {name} {name};\n" for name in sorted(known | opaque))
    head = _PREAMBLE + extra
    try:
        ast = _parser().parse(head + source_line + "\n", filename="<declaration>")
    except c_parser.ParseError as e:
        raise SignatureError(_parse_error_message(str(e), source_line, head.count("\n"))) from None
    return ast.ext[-1], opaque, head.count("\n")


def _parse_error_message(message: str, line: str, head_lines: int) -> str:
    m = re.match(r"<declaration>:(\d+):(\d+): (.*)", message)
    if m and int(m.group(1)) == head_lines + 1:
        return _with_caret(f"cannot parse declaration: {m.group(3)}", line, int(m.group(2)))
    return f"cannot parse declaration {line!r}: {message}"


def _with_caret(message: str, line: str, column: int) -> str:
    return f"{message}\n{line}\n{' ' * max(column - 1, 0)}^"


@functools.lru_cache(maxsize=1024)
def _parse_declaration_text(text: str, known: frozenset[str]):
    line = text.strip().rstrip(";").strip()
    decl, opaque, head_lines = _parse(line + ";", known)
    return decl, line, head_lines


@functools.lru_cache(maxsize=1024)
def _parse_type_text(text: str, known: frozenset[str]):
    decl, opaque, head_lines = _parse(f"{text} __fastffi_value;", known)
    return decl.type, text, head_lines


def parse_declaration(text: str, types=None) -> Signature:
    """Parse one C function declaration."""
    if not isinstance(text, str):
        raise TypeError(f"a declaration is a str, got {type(text).__name__}")
    if not types:
        sig = _declared.get(text)
        if sig is None:
            if len(_declared) >= 4096:
                _declared.clear()
            sig = _declared[text] = _parse_declaration(text, None)
        return sig
    return _parse_declaration(text, types)


def _parse_declaration(text: str, types) -> Signature:
    decl, line, head_lines = _parse_declaration_text(text, _known_names(text, types))
    if not isinstance(decl, c_ast.Decl) or not isinstance(decl.type, c_ast.FuncDecl):
        raise SignatureError(f"not a function declaration: {line!r}")
    func = decl.type
    ctx = (line, head_lines)
    restype = _type_from_ast(func.type, ctx[0], ctx[1], types)
    argtypes = []
    params = func.args.params if func.args is not None else []
    for i, p in enumerate(params):
        if isinstance(p, c_ast.EllipsisParam):
            raise SignatureError(_with_caret("variadic argument list (...) is not supported yet", line,
                                             p.coord.column if p.coord else 1))
        if isinstance(p, c_ast.ID):
            raise SignatureError(_with_caret(f"unknown type {p.name!r}", line, p.coord.column))
        t = _type_from_ast(p.type, line, head_lines, types, parameter=True)
        if t is VOID:
            if len(params) == 1 and not getattr(p, "name", None):
                break  # f(void)
            raise SignatureError(_with_caret("void is not a valid argument type", line, _column(p.type)))
        argtypes.append(t)
    return Signature(decl.name, restype, tuple(argtypes))


def _column(node) -> int:
    while node is not None:
        if node.coord is not None and node.coord.column:
            return node.coord.column
        node = getattr(node, "type", None)
    return 1


def _type_from_ast(node, line: str, head_lines: int, types, *, parameter: bool = False):
    """Map a pycparser type node to a fastffi type."""
    if isinstance(node, c_ast.PtrDecl):
        target = node.type
        if isinstance(target, c_ast.TypeDecl) and isinstance(target.type, c_ast.IdentifierType) \
                and target.type.names == ["char"]:
            return SCALARS["string"]
        _check_no_definitions(target, line)
        return SCALARS["pointer"]
    if isinstance(node, (c_ast.ArrayDecl, c_ast.FuncDecl)):
        if parameter:  # C 6.7.6.3: array and function parameters decay to pointers
            return SCALARS["pointer"]
        raise SignatureError(_with_caret("array or function type by value is not supported yet", line,
                                         _column(node)))
    if isinstance(node, c_ast.Typename):
        return _type_from_ast(node.type, line, head_lines, types, parameter=parameter)
    if not isinstance(node, c_ast.TypeDecl):
        raise SignatureError(f"unsupported type in {line!r}")
    spec = node.type
    column = spec.coord.column if spec.coord is not None else _column(node)
    if isinstance(spec, c_ast.IdentifierType):
        words = spec.names
        text = " ".join(words)
        t = scalar(text) or scalar(" ".join(sorted(words, key=lambda w: _SPECIFIER_ORDER.get(w, 99))))
        if t is not None:
            return t
        if "double" in words and "long" in words:
            raise SignatureError(_with_caret("long double is not supported yet", line, column))
        named = _lookup_named(text, types)
        if named is not None:
            return named
        if len(words) == 1:
            raise SignatureError(_with_caret(f"unknown type {text!r} used by value is not supported yet",
                                             line, column))
        raise SignatureError(_with_caret(f"unknown type {text!r}", line, column))
    if isinstance(spec, c_ast.Enum):
        return SCALARS["i32"]  # enums are int-sized on both ABIs we target
    if isinstance(spec, (c_ast.Struct, c_ast.Union)):
        _check_no_definitions(node, line)
        tag = "struct" if isinstance(spec, c_ast.Struct) else "union"
        named = _lookup_named(f"{tag} {spec.name}", types)
        if named is not None:
            return named
        raise SignatureError(_with_caret(f"unknown type '{tag} {spec.name}' used by value is not supported yet",
                                         line, column))
    raise SignatureError(f"unsupported type in {line!r}")


def _check_no_definitions(node, line: str) -> None:
    """Struct bodies inside a declaration: bitfields are refused by name, and
    any other body too (types are defined with fastffi.struct)."""
    while isinstance(node, (c_ast.PtrDecl, c_ast.TypeDecl, c_ast.ArrayDecl)):
        node = node.type
    if isinstance(node, (c_ast.Struct, c_ast.Union)) and node.decls is not None:
        for d in node.decls:
            if getattr(d, "bitsize", None) is not None:
                raise SignatureError(_with_caret("bitfield member is not supported yet", line, d.coord.column))
        raise SignatureError(_with_caret("struct definition inside a declaration is not supported yet "
                                         "(define the type with fastffi.struct)", line, node.coord.column))


__all__ = ["Signature", "make_signature", "type_name", "define", "undefine", "parse_declaration", "resolve_type", "resolve_field_type"]
