"""C declarations and type texts, parsed with pycparser.

Imported on first use (:mod:`fastffi.cdecl.spelling` sends here only what its
tables cannot resolve), so the (name, restype, argtypes) form never loads the
parser.

Names come from the namespace: its typedef names are declared to the parser
as typedefs, its tags are read from it.  The namespace is an outer scope, so
a declaration may reuse one of its typedef names for the function itself
(``int stat(const char *, struct stat *)`` after ``define("stat", Stat)``),
as an inner declaration may in C.  Identifiers no namespace defines are
declared as opaque types when they stand where only a type can (``sqlite3
**db``, ``FILE *``), so pointers to them parse; using one by value is refused
with a caret under it.  Parses are cached by text and the typedef names they
mention."""
from __future__ import annotations

import functools
import re
import threading

from pycparser import c_ast, c_parser

from ..errors import SignatureError
from ..model.namespace import IDENT as _IDENT
from ..model.namespace import Namespace
from ..model.pointers import FunctionType, Opaque, pointer_to
from ..model.scalars import C_SPELLINGS, SCALARS, VOID, Scalar, scalar
from ..model.signature import Signature
from .enums import enum_type

_C_KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline int
long register restrict return short signed sizeof static struct switch typedef union unsigned void
volatile while _Bool _Complex _Atomic _Noreturn _Alignas _Alignof _Thread_local __restrict
__restrict__ __inline __inline__ __extension__ __const __int128
""".split())

#: Single-word spellings that are typedefs rather than keywords.
_BUILTIN_TYPEDEFS = tuple(sorted(k for k in C_SPELLINGS if _IDENT.fullmatch(k) and k not in _C_KEYWORDS))
_PREAMBLE = "".join(f"typedef int {name};\n" for name in _BUILTIN_TYPEDEFS)

# Order in which multi-word specifiers are spelled in C_SPELLINGS.
_SPECIFIER_ORDER = {w: i for i, w in enumerate(["signed", "unsigned", "short", "long", "char", "int", "float",
                                                "double", "_Bool", "void"])}


def _tokens(text: str) -> list[str]:
    return re.findall(r"[A-Za-z_]\w*|\d+|\.\.\.|\S", text)


def _known_names(text: str, ns: Namespace) -> frozenset[str]:
    """The namespace's typedef names that occur in ``text`` (part of the parse's cache key)."""
    return frozenset([tok for tok in set(_tokens(text)) if ns.typedef(tok) is not None])


def _opaque_names(toks: list[str], known: frozenset[str]) -> set[str]:
    """Identifiers standing where only a type can: followed by an identifier or
    ``*`` (``FILE *f``, ``sqlite3 **db``), or alone between ``(``/``,`` and
    ``)``/``,`` in a parameter list -- and not after struct/union/enum, nor
    an enumeration constant (which the text itself declares)."""
    found = set()
    constants = _enumerators(toks)
    for i, tok in enumerate(toks):
        if not _IDENT.fullmatch(tok) or tok in _C_KEYWORDS or tok in known or tok in _BUILTIN_TYPEDEFS \
                or tok in constants:
            continue
        prev = toks[i - 1] if i else ""
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if prev in ("struct", "union", "enum"):
            continue
        if nxt == "*" or (_IDENT.fullmatch(nxt) and nxt not in ("const", "volatile", "restrict")) \
                or (prev in ("(", ",") and nxt in (")", ",") and i > 1):
            found.add(tok)
    return found


def _enumerators(toks: list[str]) -> set[str]:
    """The constants enum bodies in ``toks`` declare: identifiers right after
    ``{`` or ``,`` between ``enum [tag] {`` and its ``}``."""
    names = set()
    inside = False
    for i, tok in enumerate(toks):
        if tok == "{" and "enum" in toks[max(i - 2, 0):i]:
            inside = True
        elif tok == "}":
            inside = False
        elif inside and toks[i - 1] in ("{", ",") and _IDENT.fullmatch(tok):
            names.add(tok)
    return names


_parser_local = threading.local()


def _parser() -> c_parser.CParser:
    # CParser keeps state while parsing: one per thread.
    p = getattr(_parser_local, "parser", None)
    if p is None:
        p = _parser_local.parser = c_parser.CParser()
    return p


_SHADOWED = re.compile(r"<declaration>:\d+:\d+: Non-typedef '(\w+)' previously declared as typedef")


#: How deeply a declaration may nest: brackets in its text, and nodes in its
#: syntax tree (a declarator per pointer, array or function level, a parameter
#: list, an operator of an enum constant's value).  C11 5.2.4.1 asks compilers
#: for at least 12 declarators and 63 levels of parentheses; both pycparser (a
#: recursive-descent parser since 3.0) and the resolver below recurse per level,
#: so a text nested thousands deep would otherwise end in RecursionError.
MAX_NESTING = 64
MAX_TREE_DEPTH = 128


def _too_deep(detail: str) -> SignatureError:
    return SignatureError(f"declaration nests too deeply ({detail})")


def _check_brackets(toks: list[str]) -> None:
    depth = 0
    for tok in toks:
        if tok in "([{":
            depth += 1
            if depth > MAX_NESTING:
                raise _too_deep(f"more than {MAX_NESTING} levels of brackets")
        elif tok in ")]}":
            depth -= 1


def _check_tree_depth(root) -> None:
    """Walk the tree without recursion: the point is to refuse what recursion cannot take."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise _too_deep(f"more than {MAX_TREE_DEPTH} levels of declarators and operators")
        stack.extend((child, depth + 1) for _, child in node.children())


_ONLY_ELLIPSIS = re.compile(r"\(\s*(\.\.\.)\s*\)")


def _parse(source_line: str, known: frozenset[str], wrap: tuple[str, str] = ("", "")):
    """Parse ``source_line`` after the typedef head.  ``wrap`` is text put
    around it (its opening part on lines of its own), so that error carets and
    the syntax tree's columns still point into ``source_line``."""
    toks = _tokens(source_line)
    _check_brackets(toks)
    only_ellipsis = _ONLY_ELLIPSIS.search(source_line)
    if only_ellipsis:
        # C11 6.7.6.3: '...' follows at least one parameter (C23 lifts that; pycparser's
        # message for it differs between its 2.x and 3.x releases, so the rule is ours).
        raise SignatureError(_with_caret("cannot parse declaration: '...' needs at least one fixed parameter "
                                         "before it (C11 6.7.6.3)", source_line, only_ellipsis.start(1) + 1))
    opaque = _opaque_names(toks, known)
    typedefs = set(known | opaque)
    while True:
        extra = "".join(f"typedef struct {name} {name};\n" for name in sorted(typedefs))
        head = _PREAMBLE + extra
        try:
            ast = _parser().parse(head + wrap[0] + source_line + wrap[1] + "\n", filename="<declaration>")
        except RecursionError:
            # Within the limits above, yet the caller's own stack was deep: the
            # same error.  A fresh parser next time, whatever state this one kept.
            _parser_local.parser = None
            raise _too_deep("for the Python stack") from None
        except c_parser.ParseError as e:
            # The declaration declares one of the namespace's typedef names as
            # something else: it shadows the outer name, as C allows in an
            # inner scope.  Parse again without it.
            shadowed = _SHADOWED.match(str(e))
            if shadowed and shadowed.group(1) in typedefs:
                typedefs.discard(shadowed.group(1))
                continue
            raise SignatureError(_parse_error_message(str(e), source_line,
                                                      head.count("\n") + wrap[0].count("\n"))) from None
        # One node per typedef line of the head, then what the text declares:
        # "int f(void); int g(void)" and "int f(void), g(void)" are two (C
        # 6.7: each declarator is a declaration of its own), and silently
        # keeping the last would call a function the caller did not mean.
        declared = len(ast.ext) - head.count("\n")
        if declared != 1:
            if source_line.endswith(_VALUE_DECLARATOR):
                raise SignatureError(f"not a single type: {source_line[:-len(_VALUE_DECLARATOR)]!r}")
            raise SignatureError(f"one declaration per string: {source_line.rstrip(';')!r} declares "
                                 f"{declared} (declare each function in its own string)")
        _check_tree_depth(ast.ext[-1])
        return ast.ext[-1]


def _parse_error_message(message: str, line: str, head_lines: int) -> str:
    m = re.match(r"<declaration>:(\d+):(\d+): (.*)", message)
    if m and int(m.group(1)) == head_lines + 1:
        return _with_caret(f"cannot parse declaration: {m.group(3)}", line, int(m.group(2)))
    if m and int(m.group(1)) > head_lines + 1:
        # In the text wrapped around the line (a type name's closing ");"):
        # the line ended too early.
        return _with_caret(f"cannot parse declaration: {m.group(3)}", line, len(line) + 1)
    return f"cannot parse declaration {line!r}: {message}"


def _with_caret(message: str, line: str, column: int) -> str:
    return f"{message}\n{line}\n{' ' * max(column - 1, 0)}^"


#: complex.h's `complex` (C11 7.3.1p4: a macro expanding to _Complex), next
#: to float/double: a declaration text (and cdef's) is not preprocessed.
COMPLEX_MACRO = re.compile(r"\b(?:(?<=float )|(?<=double ))complex\b|\bcomplex(?=\s+(?:float|double|long)\b)")


@functools.lru_cache(maxsize=1024)
def _parse_declaration_text(text: str, known: frozenset[str]):
    line = text.strip().rstrip(";").strip()
    source = COMPLEX_MACRO.sub("_Complex", line) if "complex" in line else line
    return _parse(source + ";", known), line


#: What a type text is completed with to parse as a declaration.
_VALUE_DECLARATOR = " __fastffi_value;"


@functools.lru_cache(maxsize=1024)
def _parse_type_text(text: str, known: frozenset[str]):
    return _parse(text + _VALUE_DECLARATOR, known).type, text


def type_from_text(spec: str, text: str, ns: Namespace):
    """The type a C type text names (``text`` is ``spec`` normalised), parsed."""
    if _IDENT.fullmatch(text) and text not in _C_KEYWORDS:
        raise SignatureError(f"unknown type {spec!r}")
    if "(" in text:   # the user's spelling, not the normalised one, in error messages
        return _function_pointer_type(spec, ns)
    node, line = _parse_type_text(text, _known_names(text, ns))
    try:
        return _type_from_ast(node, line, ns)
    except RecursionError:   # within MAX_TREE_DEPTH, on an already deep stack
        raise _too_deep("for the Python stack") from None


def function_signature(text: str, ns: Namespace) -> Signature:
    """The signature one C function declaration states."""
    decl, line = _parse_declaration_text(text, _known_names(text, ns))
    if not isinstance(decl, c_ast.Decl) or not isinstance(decl.type, c_ast.FuncDecl):
        raise SignatureError(f"not a function declaration: {line!r}")
    func = decl.type
    try:
        restype = _type_from_ast(func.type, line, ns)
        argtypes, variadic = _parameters(func, line, ns)
    except RecursionError:   # within MAX_TREE_DEPTH, on an already deep stack
        raise _too_deep("for the Python stack") from None
    if variadic and not argtypes:
        raise SignatureError(f"a variadic function needs at least one fixed argument (C11 6.7.6.3): {line!r}")
    return Signature(decl.name, restype, argtypes, len(argtypes) if variadic else None)


def _parameters(func: c_ast.FuncDecl, line: str, ns):
    """(argument types, whether the list ends in ``...``)."""
    argtypes: list = []
    names = set()
    params = func.args.params if func.args is not None else []
    for i, p in enumerate(params):
        if isinstance(p, c_ast.EllipsisParam):   # always last (the C grammar)
            return tuple(argtypes), True
        if isinstance(p, c_ast.ID):   # an old-style parameter name: a type no namespace knows
            raise SignatureError(_with_caret(f"unknown type {p.name!r} used by value is not supported yet",
                                             line, p.coord.column))
        name = getattr(p, "name", None)
        if name is not None:
            # C11 6.7p3: an identifier without linkage declared twice in one
            # scope (here the prototype's, 6.2.1p4) violates a constraint.
            if name in names:
                raise SignatureError(_with_caret(f"duplicate parameter name {name!r}", line, _column(p.type)))
            names.add(name)
        t = _type_from_ast(p.type, line, ns, parameter=True)
        if t is VOID:
            if len(params) == 1 and not getattr(p, "name", None):
                break  # f(void)
            raise SignatureError(_with_caret("void is not a valid argument type", line, _column(p.type)))
        argtypes.append(t)
    return tuple(argtypes), False


def _column(node) -> int:
    while node is not None:
        if node.coord is not None and node.coord.column:
            return node.coord.column
        node = getattr(node, "type", None)
    return 1


def _type_from_ast(node, line: str, ns, *, parameter: bool = False):
    """Map a pycparser type node to a fastffi type."""
    if isinstance(node, c_ast.PtrDecl):
        return _pointer(node.type, line, ns)
    if isinstance(node, (c_ast.ArrayDecl, c_ast.FuncDecl)):
        if parameter:  # C 6.7.6.3: array and function parameters decay to pointers
            return _pointer(node.type if isinstance(node, c_ast.ArrayDecl) else node, line, ns)
        raise SignatureError(_with_caret("array or function type by value is not supported yet", line,
                                         _column(node)))
    if isinstance(node, c_ast.Typename):
        return _type_from_ast(node.type, line, ns, parameter=parameter)
    if not isinstance(node, c_ast.TypeDecl):
        raise SignatureError(f"unsupported type in {line!r}")
    spec = node.type
    column = spec.coord.column if spec.coord is not None else _column(node)
    if isinstance(spec, c_ast.IdentifierType):
        words = spec.names
        text = " ".join(words)
        t = _scalar_of(words)
        if t is not None:
            return t
        if "_Complex" in words and "long" in words:
            # x86-64 passes it as class COMPLEX_X87 (psABI 3.2.3), which libffi lacks
            raise SignatureError(_with_caret("long double _Complex is not supported yet", line, column))
        named = ns.typedef(text)
        if named is not None:
            return named
        if len(words) == 1:
            raise SignatureError(_with_caret(f"unknown type {text!r} used by value is not supported yet",
                                             line, column))
        raise SignatureError(_with_caret(f"unknown type {text!r}", line, column))
    if isinstance(spec, c_ast.Enum):
        return enum_type(spec, ns, line)
    if isinstance(spec, (c_ast.Struct, c_ast.Union)):
        _check_no_definitions(node, line)
        tag = "struct" if isinstance(spec, c_ast.Struct) else "union"
        named = ns.tag(tag, spec.name)
        if named is not None:
            return named
        raise SignatureError(_with_caret(f"unknown type '{tag} {spec.name}' used by value is not supported yet",
                                         line, column))
    raise SignatureError(f"unsupported type in {line!r}")


def _scalar_of(words: list[str]) -> Scalar | None:
    return scalar(" ".join(words)) or scalar(" ".join(sorted(words, key=lambda w: _SPECIFIER_ORDER.get(w, 99))))


def _pointer(target, line: str, ns) -> Scalar:
    """The pointer type to ``target``: its pointee resolved as far as the
    namespace knows it (a name it does not know stays an opaque name), and
    whether the pointee is const.  ``char *`` is the ``string`` kind."""
    _check_no_definitions(target, line)
    if isinstance(target, c_ast.PtrDecl):
        return pointer_to(_pointer(target.type, line, ns), "const" in target.quals)
    if isinstance(target, c_ast.FuncDecl):
        restype = _type_from_ast(target.type, line, ns)
        argtypes, variadic = _parameters(target, line, ns)
        return pointer_to(FunctionType(restype, argtypes, variadic))
    if not isinstance(target, c_ast.TypeDecl):
        return SCALARS["pointer"]   # pointers to arrays: untyped for now
    const = "const" in target.quals
    spec = target.type
    if isinstance(spec, c_ast.IdentifierType):
        words = spec.names
        if words == ["char"]:
            return pointer_to(scalar("char"), const, string=True)
        if words == ["wchar_t"]:   # wchar_t * is the wstring kind
            return pointer_to(scalar("wchar_t"), const, wide=True)
        pointee = _scalar_of(words) or ns.typedef(" ".join(words)) or Opaque(" ".join(words))
    elif isinstance(spec, c_ast.Enum):
        pointee = enum_type(spec, ns, line)
    else:
        tag = "struct" if isinstance(spec, c_ast.Struct) else "union"
        pointee = ns.tag(tag, spec.name) or Opaque(f"{tag} {spec.name}")
    return pointer_to(pointee, const)


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


# ---------------------------------------------------------------------------
# Function types and function-pointer types as type names.
#
# A C type name with an abstract declarator (C11 6.7.7) -- "int (*)(int)",
# "int(const void *, const void *)" -- has no place for the name a value
# declaration would add, but it is exactly what may stand as a parameter of a
# prototype (6.7.6.3p2: a parameter declaration may omit its identifier).  So
# such a text is parsed as the one parameter of a prototype; a declaration
# "int cmp(const void *a, const void *b)" is such a parameter too, named.

#: What a type name is wrapped in: the prototype's head on a line of its own,
#: so that columns in errors and in the tree point into the text itself.
_TYPE_NAME_WRAP = ("void __fastffi_type(\n", "\n);")


@functools.lru_cache(maxsize=1024)
def _parse_type_name(text: str, known: frozenset[str]):
    """(the parameter node: a Typename or a named Decl, the line)."""
    line = text.strip().rstrip(";").strip()
    decl = _parse(line, known, _TYPE_NAME_WRAP)
    params = decl.type.args.params if decl.type.args is not None else []
    if len(params) != 1 or isinstance(params[0], c_ast.EllipsisParam):
        raise SignatureError(f"not a single type: {line!r}")
    if isinstance(params[0], c_ast.ID):   # an identifier list: a name no namespace knows
        raise SignatureError(_with_caret(f"unknown type {params[0].name!r}", line, params[0].coord.column))
    return params[0], line


def _function_pointer_type(text: str, ns: Namespace):
    """A type text with a function declarator: a pointer to a function type
    (a function type itself is refused as a value, as C has no such values)."""
    node, line = _parse_type_name(text, _known_names(text, ns))
    if getattr(node, "name", None):
        raise SignatureError(f"not a single type: {line!r} declares {node.name!r}")
    try:
        return _type_from_ast(node.type, line, ns)
    except RecursionError:   # within MAX_TREE_DEPTH, on an already deep stack
        raise _too_deep("for the Python stack") from None


def function_type(text: str, ns: Namespace) -> tuple[str | None, FunctionType]:
    """(the declared name or None, the function type) of a function type, a
    pointer to one, or a declaration of a function or of a pointer to one --
    what a callback's signature may be written as."""
    node, line = _parse_type_name(text, _known_names(text, ns))
    t = node.type
    try:
        if isinstance(t, c_ast.PtrDecl) and isinstance(t.type, c_ast.FuncDecl):
            t = t.type
        if isinstance(t, c_ast.FuncDecl):
            restype = _type_from_ast(t.type, line, ns)
            argtypes, variadic = _parameters(t, line, ns)
            ftype = FunctionType(restype, argtypes, variadic)
        else:
            # A typedef name of a function-pointer type ("cmp_t"), or not a function type at all.
            named = _type_from_ast(t, line, ns, parameter=True)
            pointee = named.pointee if isinstance(named, Scalar) else None
            if not isinstance(pointee, FunctionType):
                raise SignatureError(f"not a function type: {line!r}")
            ftype = pointee
    except RecursionError:   # within MAX_TREE_DEPTH, on an already deep stack
        raise _too_deep("for the Python stack") from None
    return getattr(node, "name", None), ftype


def parameter_names(text: str, ns: Namespace) -> tuple:
    """The parameter names a C function declaration gives (None where it gives none), for
    ``inspect.signature(fn)``: the same cached parse as :func:`function_signature`."""
    decl, _ = _parse_declaration_text(text, _known_names(text, ns))
    if not isinstance(decl, c_ast.Decl) or not isinstance(decl.type, c_ast.FuncDecl):
        return ()
    params = decl.type.args.params if decl.type.args is not None else []
    names = [getattr(p, "name", None) for p in params if not isinstance(p, c_ast.EllipsisParam)]
    return () if names == [None] and _is_void(params[0]) else tuple(names)


def _is_void(param) -> bool:
    t = getattr(param, "type", None)
    return isinstance(t, c_ast.TypeDecl) and isinstance(t.type, c_ast.IdentifierType) and t.type.names == ["void"]
