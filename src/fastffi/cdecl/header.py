"""A whole C header to the model: what ``fastffi.cdef`` and ``fastffi.include`` read.

The input is C text after preprocessing (``cc -E -dD`` output for include(),
the caller's text for cdef()): directive lines are taken out first -- line
markers say which file each line came from (``h.own``), ``#define``s become
constants (:mod:`.constants`), ``#pragma pack`` changes layouts -- then the
token pre-pass (:mod:`.prepass`) makes compiler extensions parse, pycparser
parses the whole translation unit once and the declarations are walked in
order, as a compiler reads them.

A declaration that uses a type fastffi has no value for (``long double``,
``_Complex``, ``va_list``, a struct with bitfields) is kept with the reason,
and refused by name when it is used: everything else in the header still
binds."""
from __future__ import annotations

import bisect
import re
import threading
from typing import Any

from pycparser import c_ast, c_generator, c_parser

from ..errors import SignatureError
from ..model.aggregates import make_aggregate
from ..model.layout import size_align
from ..model.pointers import FunctionType, Opaque, pointer_to
from ..model.scalars import C_SPELLINGS, SCALARS, VOID, Scalar, scalar
from ..model.signature import Signature
from ..model.typedefs import POSIX_TYPEDEFS
from . import constants as K
from .entries import Parsed, Refused, Unsupported
from .enums import type_for_values
from .fastdecl import fast_signature
from .parser import COMPLEX_MACRO
from .prepass import OPAQUE_BUILTINS, HeaderSyntax, clean


_LINEMARKER = re.compile(r'#\s*(?:line\s+)?(\d+)\s+"((?:\\.|[^"\\])*)"')
_DEFINE = re.compile(r"#\s*define\s+([A-Za-z_]\w*)(\([^)]*\))?\s?(.*)", re.S)
_UNDEF = re.compile(r"#\s*undef\s+([A-Za-z_]\w*)")
_PRAGMA_PACK = re.compile(r"#\s*pragma\s+pack\s*\(\s*(.*?)\s*\)")
_PREPROCESSOR_ONLY = re.compile(r"#\s*(include|if|ifdef|ifndef|elif|else|endif|error|import|include_next)\b")


class _Source:
    """The text with its directive lines taken out, and where each line came from."""

    def __init__(self, text: str, filename: str, *, preprocessed: bool, own_suffix: str | None):
        # Line 1 is left empty: the parser's preamble of opaque names goes there,
        # so the text's coordinates are the same before and after it.
        self.lines_file: list[str] = [filename]
        self.lines_no: list[int] = [0]
        self.defines: dict[str, tuple[str | None, str, str]] = {}   # name -> (params, body, file)
        self.pack_changes: list[tuple[int, int | None]] = []
        body: list[str] = [""]
        current, lineno = filename, 1
        pack_stack: list[int | None] = []
        pack: int | None = None
        self.files: list[str] = []
        self.own_file: str | None = None
        raw = text.split("\n")
        k = 0
        while k < len(raw):
            line = raw[k]
            k += 1
            stripped = line.lstrip()
            if stripped.startswith("#"):
                while line.endswith("\\") and k < len(raw):   # a continued directive
                    line = line[:-1] + raw[k]
                    k += 1
                    body.append("")
                    self.lines_file.append(current)
                    self.lines_no.append(lineno)
                directive = line.strip()
                m = _LINEMARKER.match(directive)
                if m and preprocessed:
                    current, lineno = m.group(2), int(m.group(1))
                    if current not in self.files and not current.startswith("<"):
                        self.files.append(current)
                    if self.own_file is None and own_suffix and (current == own_suffix
                                                                  or current.endswith("/" + own_suffix)):
                        self.own_file = current
                    body.append("")
                    self.lines_file.append(current)
                    self.lines_no.append(lineno)
                    continue
                only = None if preprocessed else _PREPROCESSOR_ONLY.match(directive)
                if only:
                    raise SignatureError(f"{filename}:{lineno}: #{only.group(1)} needs a preprocessor: cdef() reads "
                                         f"declarations only; use fastffi.include() for a header\n{line}")
                d = _DEFINE.match(directive)
                undef = None if d else _UNDEF.match(directive)
                packing = None if d or undef else _PRAGMA_PACK.match(directive)
                if d:
                    self.defines[d.group(1)] = (d.group(2), d.group(3).strip(), current)
                elif undef:
                    self.defines.pop(undef.group(1), None)
                elif packing:
                    arg = [a.strip() for a in packing.group(1).split(",") if a.strip()]
                    if arg[:1] == ["push"]:
                        pack_stack.append(pack)
                        if len(arg) > 1 and arg[-1].isdigit():
                            pack = int(arg[-1])
                    elif arg[:1] == ["pop"]:
                        pack = pack_stack.pop() if pack_stack else None
                    elif arg and arg[0].isdigit():
                        pack = int(arg[0])
                    else:
                        pack = None
                    self.pack_changes.append((len(body) + 1, pack))
                body.append("")
            else:
                body.append(line)
            self.lines_file.append(current)
            self.lines_no.append(lineno)
            lineno += 1
        self.text = "\n".join(body)

    def where(self, line: int) -> tuple[str, int]:
        """(file, line) of a line of the text (1-based)."""
        i = min(max(line - 1, 0), len(self.lines_file) - 1)
        return self.lines_file[i], self.lines_no[i]

    def pack_at(self, line: int) -> int | None:
        i = bisect.bisect_right([ln for ln, _ in self.pack_changes], line) - 1
        return self.pack_changes[i][1] if i >= 0 else None


class _Refusal(Exception):
    pass


class _Names:
    """The builder's typedef names and tags as the fast declaration path asks for them."""

    def __init__(self, builder):
        self.b = builder

    def typedef(self, name: str):
        t = self.b.typedefs.get(name)
        return None if isinstance(t, Unsupported) else t

    def tag(self, kind: str, name: str):
        t = self.b.tags.get((kind, name))
        return t if isinstance(t, type) else None


_SPECIFIER_ORDER = {w: i for i, w in enumerate(["signed", "unsigned", "short", "long", "char", "int", "float",
                                                "double", "_Bool", "void"])}
_MODES = {"QI": 1, "HI": 2, "SI": 4, "DI": 8, "TI": 16, "word": 8, "pointer": 8, "byte": 1}
_generator = c_generator.CGenerator()


def _scalar_of(words) -> Scalar | None:
    return scalar(" ".join(words)) or scalar(" ".join(sorted(words, key=lambda w: _SPECIFIER_ORDER.get(w, 99))))


class _Builder:
    def __init__(self, source: _Source, cleaned, filename: str, types: dict | None):
        self.src = source
        self.cleaned = cleaned
        self.filename = filename
        self.out = Parsed()
        self.typedefs: dict[str, Any] = {name: SCALARS[c] for name, c in POSIX_TYPEDEFS.items()}
        for name, display in OPAQUE_BUILTINS.items():
            # __int128_t / __uint128_t are declared to the parser as opaque names, but they are
            # scalars now.
            self.typedefs[name] = scalar(name) or Unsupported(display, f"{display} has no fastffi type")
        self.tags: dict[tuple[str, str], Any] = {}
        for name, t in (types or {}).items():   # types=: names the text uses and does not define
            kind, _, tag = name.partition(" ")
            if tag and kind in ("struct", "union", "enum"):
                self.tags[kind, tag] = t
            else:
                self.typedefs[name] = t
        self.enum_values: dict[str, int] = {}
        self.anon = 0
        # What a `T *` member of an incomplete T is dereferenced as: T's class, once the header
        # completes it (tables.Tables.resolve answers the same for the cached tables).
        types_out = self.out.types

        def resolve(name: str):
            t = types_out.get(name)
            return t if isinstance(t, type) and hasattr(t, "_layout_") else None
        self.resolve = resolve
        # macro values folded so far, and those being folded (a macro naming itself is no constant)
        self.done: dict[str, Any] = {}
        self.busy: set = set()

    # ---- positions ----

    def is_own(self, node) -> bool:
        if node.coord is None:
            return False
        return self.src.where(node.coord.line)[0] == self.src.own_file

    def attrs(self, node) -> dict:
        if node is None or node.coord is None:
            return {}
        return self.cleaned.attributes.get((node.coord.line, node.coord.column), {})

    # ---- walk ----

    def walk(self, ast) -> None:
        for ext in ast.ext:
            try:
                self.external(ext)
            except _Refusal:
                pass

    def prototypes(self, spans) -> list[tuple[int, int]]:
        """Read plain prototypes with the fast declaration path, in the
        header's names; the spans of those it declines."""
        names = _Names(self)
        failed = []
        text = self.src.text
        # Line numbers counted on from the previous prototype (the spans are in text
        # order): counting from the start each time was quadratic in the header's size.
        line, counted = 1, 0
        for start, end, decl in spans:
            body = decl.strip().rstrip(";")
            while body.startswith("extern") and body[6:7].isspace():
                body = body[6:].lstrip()
            sig = fast_signature(body, names)
            if sig is None or any(isinstance(t, FunctionType) for t in (sig.restype,) + sig.argtypes):
                failed.append((start, end))
                continue
            self.out.functions[sig.name] = sig
            if sig.name in self.cleaned.asm_labels:
                self.out.symbols[sig.name] = self.cleaned.asm_labels[sig.name]
            at = start + len(decl) - len(decl.lstrip())
            line += text.count("\n", counted, at)
            counted = at
            if self.src.where(line)[0] == self.src.own_file:
                self.out.own.add(sig.name)
        return failed

    def run(self, ast) -> Parsed:
        self.walk(ast)
        self.fold_defines()
        return self.out

    def external(self, ext) -> None:
        own = self.is_own(ext)
        if isinstance(ext, c_ast.Typedef):
            try:
                t = self.typedef_type(ext)
            except _Refusal as r:
                t = Unsupported(ext.name, str(r))
            self.typedefs[ext.name] = t
            self.out.types[ext.name] = t
            if own:
                self.out.own.add(ext.name)
        elif isinstance(ext, c_ast.FuncDef):
            name = ext.decl.name
            self.out.functions[name] = Refused("inline", name, "a static inline function of the header: it has "
                                               "no symbol in the library to call")
            if own:
                self.out.own.add(name)
        elif isinstance(ext, c_ast.Decl):
            self.declaration(ext, own)

    def declaration(self, d: c_ast.Decl, own: bool) -> None:
        node = d.type
        if d.name is None:   # struct/union/enum definitions and forward declarations
            if isinstance(node, c_ast.Enum):
                self.enum(node)
            elif isinstance(node, (c_ast.Struct, c_ast.Union)):
                self.aggregate(node, None)
            return
        if own:
            self.out.own.add(d.name)
        if isinstance(node, c_ast.FuncDecl):
            self.out.functions[d.name] = self.function(d.name, node)
        elif "typedef" not in d.storage:
            if "static" in d.storage:
                return
            try:
                t, count = self.field_type(node)
                if t is VOID:
                    raise _Refusal("void has no values")
                self.out.variables[d.name] = (t, count)
            except _Refusal as r:
                self.out.variables[d.name] = Refused("variable", d.name, str(r))
        if d.name in self.cleaned.asm_labels:
            self.out.symbols[d.name] = self.cleaned.asm_labels[d.name]

    def function(self, name: str, node: c_ast.FuncDecl):
        try:
            restype = self.type_of(node.type)
            args, variadic = self.parameters(node)
        except _Refusal as r:
            return Refused("function", name, str(r))
        if variadic and not args:
            return Refused("function", name, "a variadic function needs at least one fixed argument (C11 6.7.6.3)")
        return Signature(name, restype, args, len(args) if variadic else None)

    def parameters(self, node: c_ast.FuncDecl):
        args: list = []
        params = node.args.params if node.args is not None else []
        for p in params:
            if isinstance(p, c_ast.EllipsisParam):
                return tuple(args), True
            if isinstance(p, c_ast.ID):
                raise _Refusal(f"unknown type {p.name!r}")
            t = self.type_of(p.type, parameter=True)
            if t is VOID:
                if len(params) == 1:
                    break
                raise _Refusal("void is not a valid argument type")
            args.append(t)
        return tuple(args), False

    # ---- types ----

    def typedef_type(self, td: c_ast.Typedef):
        node = td.type
        if isinstance(node, c_ast.FuncDecl):
            restype = self.type_of(node.type)
            args, variadic = self.parameters(node)
            return FunctionType(restype, args, variadic)
        t, count = self.field_type(node, typedef_name=td.name)
        if count is not None:
            raise _Refusal(f"array typedef {td.name!r} is not supported yet")
        attrs = self.attrs(td.type)
        if "vector_size" in attrs:
            raise _Refusal(f"vector type {td.name!r} has no fastffi type")
        if "mode" in attrs and isinstance(t, Scalar) and t.is_integer:
            size = _MODES.get(attrs["mode"])
            if size is None or size > 8:
                raise _Refusal(f"{td.name!r} has mode {attrs['mode']} which has no fastffi type")
            t = SCALARS[f"{t.name[0]}{size * 8}"]
        return t

    def field_type(self, node, typedef_name: str | None = None):
        """(type, element count or None) of a member or variable declarator."""
        if isinstance(node, c_ast.ArrayDecl):
            count = 1
            while isinstance(node, c_ast.ArrayDecl):
                count *= self.array_dim(node.dim)
                node = node.type
            return self.type_of(node, typedef_name=typedef_name), count
        return self.type_of(node, typedef_name=typedef_name), None

    def array_dim(self, dim) -> int:
        if dim is None:
            return 0   # a flexible array member (C11 6.7.2.1p18) takes no space
        v = self.expr(dim)
        if not isinstance(v, K.Int) or v.value < 0:
            raise _Refusal(f"array size {_generator.visit(dim)!r} is not a constant")
        return v.value

    def type_of(self, node, *, parameter: bool = False, typedef_name: str | None = None):
        if isinstance(node, c_ast.PtrDecl):
            return self.pointer(node.type)
        if isinstance(node, (c_ast.ArrayDecl, c_ast.FuncDecl)):
            if parameter:  # C11 6.7.6.3p7-8: array and function parameters decay to pointers
                return self.pointer(node.type if isinstance(node, c_ast.ArrayDecl) else node)
            raise _Refusal("array or function type by value is not supported yet")
        if isinstance(node, c_ast.Typename):
            return self.type_of(node.type, parameter=parameter)
        if not isinstance(node, c_ast.TypeDecl):
            raise _Refusal(f"unsupported declarator {type(node).__name__}")
        spec = node.type
        if isinstance(spec, c_ast.IdentifierType):
            words = spec.names
            t = _scalar_of(words)
            if t is not None:
                return t
            text = " ".join(words)
            if "_Complex" in words and "long" in words:
                # x86-64 psABI 3.2.3 class COMPLEX_X87, which libffi lacks
                raise _Refusal(f"{text!r}: long double _Complex has no fastffi type")
            if "_Complex" in words:
                raise _Refusal(f"{text!r}: _Complex has no fastffi type")
            if "__int128" in words:
                raise _Refusal(f"{text} has no fastffi type")
            if "double" in words and "long" in words:
                raise _Refusal("long double has no fastffi type")
            if len(words) == 1:
                named = self.typedefs.get(text)
                if named is None:
                    raise _Refusal(f"unknown type {text!r}")
                if isinstance(named, Unsupported):
                    raise _Refusal(named.reason)
                if isinstance(named, FunctionType):
                    raise _Refusal(f"function type {text!r} by value")
                return named
            raise _Refusal(f"unknown type {text!r}")
        if isinstance(spec, c_ast.Enum):
            return self.enum(spec)
        if isinstance(spec, (c_ast.Struct, c_ast.Union)):
            t = self.aggregate(spec, typedef_name)
            if isinstance(t, Unsupported):
                raise _Refusal(t.reason)
            if t is None:
                kind = "struct" if isinstance(spec, c_ast.Struct) else "union"
                raise _Refusal(f"'{kind} {spec.name}' is incomplete (the header declares no members for it)")
            return t
        raise _Refusal(f"unsupported type {type(spec).__name__}")

    def pointer(self, target):
        if isinstance(target, c_ast.PtrDecl):
            return pointer_to(self.pointer(target.type), "const" in target.quals)
        if isinstance(target, c_ast.FuncDecl):
            try:
                restype = self.type_of(target.type)
                args, variadic = self.parameters(target)
            except _Refusal:
                return SCALARS["pointer"]   # a pointer to a function fastffi cannot describe: untyped
            return pointer_to(FunctionType(restype, args, variadic))
        if not isinstance(target, c_ast.TypeDecl):
            return SCALARS["pointer"]
        const = "const" in target.quals
        spec = target.type
        if isinstance(spec, c_ast.IdentifierType):
            words = spec.names
            if words == ["char"]:
                return pointer_to(scalar("char"), const, string=True)
            if words == ["wchar_t"]:
                return pointer_to(scalar("wchar_t"), const, wide=True)
            text = " ".join(words)
            pointee = _scalar_of(words)
            if pointee is None:
                named = self.typedefs.get(text) if len(words) == 1 else None
                if isinstance(named, FunctionType):
                    pointee = named
                elif named is None or isinstance(named, Unsupported):
                    pointee = Opaque(text)
                else:
                    pointee = named
        elif isinstance(spec, c_ast.Enum):
            try:
                pointee = self.enum(spec)
            except _Refusal:
                pointee = Opaque(f"enum {spec.name}")
        else:
            t = self.aggregate(spec, None)
            kind = "struct" if isinstance(spec, c_ast.Struct) else "union"
            pointee = Opaque(f"{kind} {spec.name}") if t is None or isinstance(t, Unsupported) else t
        return pointer_to(pointee, const)

    def enum(self, spec: c_ast.Enum):
        if spec.values is None:
            known = self.tags.get(("enum", spec.name)) if spec.name else None
            if isinstance(known, Unsupported):
                raise _Refusal(known.reason)
            return known if known is not None else SCALARS["i32"]
        values: dict[str, int] = {}
        nxt = 0
        try:
            for e in spec.values.enumerators:
                if e.value is not None:
                    v = self.expr(e.value)
                    if not isinstance(v, K.Int):
                        raise _Refusal(f"enumerator {e.name!r} is not an integer constant expression")
                    nxt = v.value
                values[e.name] = nxt
                self.enum_values[e.name] = nxt   # later enumerators may name earlier ones
                nxt += 1
            try:
                t = type_for_values(values.values(), spec.name or "enum")
            except SignatureError as err:
                raise _Refusal(str(err)) from None
        except _Refusal as r:
            # None of the enum's constants is given a value, and uses of its type say why.
            for name in values:
                self.enum_values.pop(name, None)
            if spec.name:
                self.tags["enum", spec.name] = Unsupported(f"enum {spec.name}", str(r))
                self.out.types[f"enum {spec.name}"] = self.tags["enum", spec.name]
            raise
        for e in spec.values.enumerators:
            self.out.constants[e.name] = values[e.name]
            if self.is_own(e):
                self.out.own.add(e.name)
        if spec.name:
            self.tags["enum", spec.name] = t
            self.out.types[f"enum {spec.name}"] = t
        return t

    def aggregate(self, spec, typedef_name: str | None):
        """The class of a struct/union specifier: defined here if it has a
        body, else the tag's (None when the tag is incomplete)."""
        kind = "struct" if isinstance(spec, c_ast.Struct) else "union"
        if spec.decls is None:
            return self.tags.get((kind, spec.name)) if spec.name else None
        try:
            cls = self.define_aggregate(spec, kind, typedef_name)
        except _Refusal as r:
            cls = Unsupported(f"{kind} {spec.name or typedef_name or '<anonymous>'}", str(r))
        if spec.name:
            self.tags[kind, spec.name] = cls
            self.out.types[f"{kind} {spec.name}"] = cls
            if self.is_own(spec):
                self.out.own.add(f"{kind} {spec.name}")
        return cls

    def define_aggregate(self, spec, kind: str, typedef_name: str | None):
        attrs = self.attrs(spec)
        pack = 1 if attrs.get("packed") else self.src.pack_at(spec.coord.line) if spec.coord else None
        members = []
        member_align = {}
        anonymous = set()
        for d in spec.decls:
            if isinstance(d, (c_ast.StaticAssert, c_ast.Pragma)):
                continue
            if getattr(d, "bitsize", None) is not None:
                members.append(self.bit_field(d))
                continue
            name = d.name
            if name is None:
                inner = d.type.type if isinstance(d.type, c_ast.TypeDecl) else d.type
                if not isinstance(inner, (c_ast.Struct, c_ast.Union)):
                    continue
                # C11 6.7.2.1p13: an anonymous struct or union; its members are this one's.
                self.anon += 1
                name = f"_anon{self.anon}"
                anonymous.add(name)
                t, count = self.aggregate(inner, None), None
                if not isinstance(t, type):
                    raise _Refusal(t.reason if isinstance(t, Unsupported) else "incomplete anonymous member")
            else:
                t, count = self.field_type(d.type)
            if t is VOID:
                raise _Refusal(f"member {name!r} is void")
            a = self.alignment(self.attrs(d).get("aligned"))
            for al in d.align or ():
                v = self.expr(al.alignment) if not isinstance(al.alignment, c_ast.Typename) else None
                if isinstance(al.alignment, c_ast.Typename):
                    a = max(a or 1, size_align(self.type_of(al.alignment))[1])
                elif isinstance(v, K.Int):
                    a = max(a or 1, v.value)
            if a:
                member_align[name] = a
            members.append((name, t, count))
        name = spec.name or typedef_name or "anonymous"
        try:
            return make_aggregate(name, members, pack, kind == "union", member_align=member_align,
                                  min_align=self.alignment(attrs.get("aligned")) or 1,
                                  anonymous=frozenset(anonymous), resolve=self.resolve)
        except (ValueError, SignatureError) as e:
            raise _Refusal(str(e)) from None

    def bit_field(self, d):
        t = self.type_of(d.type)
        width = self.expr(d.bitsize)
        if not isinstance(width, K.Int) or not isinstance(t, Scalar) or not t.is_integer or t.pointee is not None:
            raise _Refusal(f"bit-field {d.name or '(unnamed)'!r} is not an integer of constant width")
        if "mode" in self.attrs(d):
            raise _Refusal(f"bit-field {d.name!r} has a mode attribute (not supported)")
        return (d.name, t, None, width.value)

    def alignment(self, value):
        """An aligned attribute's value: a number, or a constant expression's text folded here."""
        if value is None:
            return None
        try:
            v = K.Int(value) if isinstance(value, int) else self.evaluate(K.tokenize(value))
        except K.NotConstant:
            v = None
        if not isinstance(v, K.Int) or v.value <= 0 or v.value & (v.value - 1):   # GCC's own requirement
            raise _Refusal(f"aligned({value}) is not a constant power of two")
        return v.value

    # ---- constants ----

    def expr(self, node):
        return self.evaluate(K.tokenize(_generator.visit(node)))

    def evaluate(self, tokens):
        return K.evaluate(tokens, self.name_value, self.cast_type, self.sizeof, self.alignof)

    def name_value(self, name: str):
        if name in self.enum_values:
            return K.Int(self.enum_values[name])
        return self.macro_value(name)

    def resolve_words(self, words):
        """A type name's tokens -> a type, or None."""
        stars = 0
        while words and words[-1] == "*":
            stars += 1
            words = words[:-1]
        words = [w for w in words if w not in ("const", "volatile")]
        if not words:
            return None
        if stars:
            return SCALARS["pointer"]
        t = _scalar_of(words)
        if t is not None:
            return t
        if len(words) == 2 and words[0] in ("struct", "union", "enum"):
            return self.tags.get((words[0], words[1]))
        if len(words) == 1:
            t = self.typedefs.get(words[0])
            if isinstance(t, FunctionType):
                return None
            return t
        return None

    def cast_type(self, words):
        if words and words[-1] == "*" or words and len(words) >= 3 and words[-3:] == ["(", "*", ")"]:
            return "pointer"
        t = self.resolve_words(words)
        if t is None or isinstance(t, Unsupported):
            if len(words) == 1 and isinstance(self.typedefs.get(words[0]), FunctionType):
                return None
            return None
        if not isinstance(t, Scalar):
            return None
        if t.pointee is not None or t.name in ("pointer", "string"):
            return "pointer"
        if t.is_float:
            return "float"
        if t.name == "bool":
            return "bool"
        if t is VOID:
            return None
        return (t.size * 8, t.name[0] == "u")

    def sizeof(self, words):
        t = self.resolve_words(words)
        if t is None or isinstance(t, Unsupported) or t is VOID:
            return None
        return size_align(t)[0]

    def alignof(self, words):
        t = self.resolve_words(words)
        if t is None or isinstance(t, Unsupported) or t is VOID:
            return None
        return size_align(t)[1]

    def fold_defines(self) -> None:
        defines = self.src.defines
        for name, (params, body, where) in defines.items():
            if where in ("<built-in>", "<command-line>"):
                continue   # the compiler's predefined macros and -D flags
            if params is not None:
                self.out.macros[name] = f"#define {name}{params} {body}".rstrip()
                if where == self.src.own_file:
                    self.out.own.add(name)
                continue
            v = self.macro_value(name)
            if v is not None:
                self.out.constants[name] = K.python_value(v)
                if where == self.src.own_file:
                    self.out.own.add(name)

    def macro_value(self, name: str):
        if name in self.done:
            return self.done[name]
        entry = self.src.defines.get(name)
        if entry is None or entry[0] is not None or name in self.busy:
            return None
        self.busy.add(name)
        try:
            tokens = K.tokenize(entry[1])
        except K.NotConstant:
            tokens = []
        v = self.evaluate(tokens)
        self.busy.discard(name)
        self.done[name] = v
        return v


# ---- parsing ----

_local = threading.local()


def _c_parser() -> c_parser.CParser:
    # CParser keeps state while it parses: one per thread (two threads may include at once).
    p = getattr(_local, "parser", None)
    if p is None:
        p = _local.parser = c_parser.CParser()
    return p


#: typedef names of the C library a cdef text may use undeclared
_TYPEDEF_NAMES = frozenset(n for n in list(C_SPELLINGS) + list(POSIX_TYPEDEFS) if re.fullmatch(r"[A-Za-z_]\w*", n)
                           and n not in ("void", "char", "short", "int", "long", "float", "double", "signed",
                                         "unsigned", "_Bool", "bool",
                                         "__int128"))   # a keyword to pycparser


def parse_text(text: str, filename: str, *, preprocessed: bool, own_suffix: str | None = None,
               types: dict | None = None) -> Parsed:
    """Parse C text (preprocessed or cdef's) into the tables of a Header."""
    if not preprocessed and "complex" in text:
        # complex.h's spelling, as a declaration given to function() takes it
        text = COMPLEX_MACRO.sub("_Complex", text)
    source = _Source(text, filename, preprocessed=preprocessed, own_suffix=own_suffix)
    if not preprocessed:
        source.own_file = filename
    try:
        cleaned = clean(source.text)
    except HeaderSyntax as e:
        line = source.text.count("\n", 0, e.offset) + 1
        raise SignatureError(_located(source, line, 1, str(e))) from None
    opaque = set(cleaned.opaque) | {"__builtin_va_list"}
    if not preprocessed:
        # cdef text uses the C library's typedef names (size_t, uint32_t, pid_t) and types= names
        # without declaring them: declared to the parser unless the text typedefs them itself.
        used = set(re.findall(r"[A-Za-z_]\w*", cleaned.text))
        for name in used & (_TYPEDEF_NAMES | set(types or ())):
            if not re.search(rf"\btypedef\b[^;]*\b{name}\s*;", cleaned.text):
                opaque.add(name)
    preamble = " ".join(f"typedef int {name};" for name in sorted(opaque))
    rest, spans = _split_prototypes(cleaned.text)
    prototypes = [(a, b, cleaned.text[a:b]) for a, b in spans]
    try:
        ast = _c_parser().parse(preamble + rest, filename="<header>")
    except (AssertionError, RecursionError) as e:
        # pycparser 2.x asserts on some malformed texts (a second '}' after a struct body); very
        # deep nesting exhausts its recursion.  Either way the text is not C it can read.
        _local.parser = None
        raise SignatureError(f"{filename}: the C parser gave up on this text ({type(e).__name__})") from None
    except c_parser.ParseError as e:
        _local.parser = None   # a fresh parser next time, whatever state this one kept
        m = re.match(r"<header>:(\d+):(\d+): (.*)", str(e))
        if m:
            raise SignatureError(_located(source, int(m.group(1)), int(m.group(2)), m.group(3))) from None
        raise SignatureError(f"cannot parse {filename}: {e}") from None
    ast.ext = ast.ext[len(opaque):]
    builder = _Builder(source, cleaned, filename, types)
    builder.walk(ast)
    failed = builder.prototypes(prototypes)
    if failed:
        builder.walk(_parse_again(cleaned.text, failed, builder, source, filename))
    builder.fold_defines()
    parsed = builder.out
    parsed.files = list(source.files)
    return parsed


#: what makes a file-scope declaration something other than a plain prototype
_NOT_PROTOTYPE = re.compile(r"\b(?:typedef|static|enum|_Static_assert|_Noreturn|inline)\b|[\[={]")


def _split_prototypes(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The text without its plain file-scope prototypes (blanked, lines kept),
    and where each was: they are read by the fast declaration path, most
    declarations of a header being prototypes and pycparser the slow part."""
    spans = []
    depth = 0
    start = 0
    body = False          # the declaration being scanned has a struct/union/enum body
    function_body = False
    for m in re.finditer(r"[{};]", text):
        c = m.group()
        if c == "{":
            if depth == 0:
                function_body = text[:m.start()].rstrip().endswith(")")
                body = True
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0 and function_body:
                start, body, function_body = m.end(), False, False   # an (emptied) inline function ends here
        elif depth == 0:
            if not body and "(" in text[start:m.start()] and not _NOT_PROTOTYPE.search(text, start, m.start()):
                spans.append((start, m.end()))
            start, body = m.end(), False
    if not spans:
        return text, spans
    pieces, last = [], 0
    for a, b in spans:
        pieces.append(text[last:a])
        pieces.append(_blank(text[a:b]))
        last = b
    pieces.append(text[last:])
    return "".join(pieces), spans


def _blank(chunk: str) -> str:
    """What stands for ``chunk`` in a text given to pycparser: its newlines, then as many
    spaces as it has characters after the last one -- so what follows keeps its line and
    column, and the lexer, which skips whitespace a character at a time, is not handed
    the blanked characters themselves (most of a header's text, in the second parse)."""
    lines = chunk.count("\n")
    return "\n" * lines + " " * (len(chunk) - chunk.rfind("\n") - 1)


def _parse_again(text: str, spans, builder, source, filename):
    """The prototypes the fast path declined, parsed by pycparser in their
    places (the rest of the text blanked), the header's typedef names declared."""
    pieces, last = [], 0
    for a, b in sorted(spans):
        pieces.append(_blank(text[last:a]))
        pieces.append(text[a:b])
        last = b
    pieces.append(_blank(text[last:]))
    body = "".join(pieces)
    used = builder.cleaned.opaque | {"__builtin_va_list"}   # the builtins the first parse declared
    # Only the typedef names these prototypes use are declared to the parser: a header's
    # thousands of others would be most of what it reads (evp.h: ~190 prototypes, ~1,500 names).
    words = set(re.findall(r"[A-Za-z_]\w*", "".join(pieces[1::2])))
    names = sorted(n for n in builder.typedefs if n in words and n not in _C_WORDS
                   and (n not in OPAQUE_BUILTINS or n in used))
    preamble = " ".join(f"typedef int {name};" for name in names)
    try:
        ast = _c_parser().parse(preamble + body, filename="<header>")
    except (AssertionError, RecursionError) as e:
        # pycparser 2.x asserts on some malformed texts (a second '}' after a struct body); very
        # deep nesting exhausts its recursion.  Either way the text is not C it can read.
        _local.parser = None
        raise SignatureError(f"{filename}: the C parser gave up on this text ({type(e).__name__})") from None
    except c_parser.ParseError as e:
        _local.parser = None   # a fresh parser next time, whatever state this one kept
        m = re.match(r"<header>:(\d+):(\d+): (.*)", str(e))
        if m:
            raise SignatureError(_located(source, int(m.group(1)), int(m.group(2)), m.group(3))) from None
        raise SignatureError(f"cannot parse {filename}: {e}") from None
    ast.ext = ast.ext[len(names):]
    return ast


_C_WORDS = frozenset("void char short int long float double signed unsigned _Bool const volatile struct union "
                     "enum typedef extern static inline".split())


def _located(source: _Source, line: int, column: int, message: str) -> str:
    file, lineno = source.where(line)
    text_lines = source.text.split("\n")
    text = text_lines[line - 1] if 0 < line <= len(text_lines) else ""
    return f"{file}:{lineno}:{column}: {message}\n{text}\n{' ' * max(column - 1, 0)}^"


__all__ = ["Parsed", "Refused", "Unsupported", "parse_text"]
