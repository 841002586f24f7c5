"""The token pre-pass that makes preprocessed system headers parse in pycparser.

Compilers' extensions are removed or renamed token by token, never by macro
(``-D__attribute__(x)=`` parses too, but silently binds wrong symbols: glibc's
``__asm__`` labels name the real symbol, ``strerror_r`` is ``__xpg_strerror_r``
with ``-D_GNU_SOURCE`` off, and wrong layouts: ``__mode__`` makes
``register_t`` 8 bytes).  What is removed is blanked out character for
character, newlines kept, so pycparser's line and column numbers are still
those of the preprocessed text; what matters for binding is recorded:

* ``__asm__("" "fopen64")`` labels, by the name the declaration declares;
* the layout attributes ``packed``, ``aligned``, ``mode`` and ``vector_size``,
  by the position pycparser reports for what they apply to -- a struct's tag
  (or its ``{`` when it has none), or a declarator's identifier (GCC's
  attribute syntax, "Attribute Syntax" in the GCC manual).

Inline function bodies are emptied (they are not bound: there is no symbol to
call), and the compiler's builtin types are declared as opaque names that a
binding refuses by name (:data:`OPAQUE_BUILTINS`)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r'L?"(?:\\.|[^"\\\n])*"|L?\'(?:\\.|[^\'\\\n])*\'|[A-Za-z_$][\w$]*|\d[\w.]*|[^\s\w]')

_DROP = frozenset(["__extension__", "__restrict", "__restrict__", "__thread"])
_RENAME = {"__inline": "inline", "__inline__": "inline", "__signed__": "signed", "__signed": "signed",
           "__const": "const", "__const__": "const", "__volatile__": "volatile", "__volatile": "volatile",
           "__alignof__": "_Alignof", "__alignof": "_Alignof", "__typeof__": "typeof", "__typeof": "typeof",
           "__complex__": "_Complex", "__noreturn__": "_Noreturn", "__real__": "", "__imag__": ""}
_ATTRIBUTE = frozenset(["__attribute__", "__attribute"])
_ASM = frozenset(["__asm__", "__asm", "asm"])
#: the narrower _FloatN types are their base types (ISO/IEC TS 18661-3) unless a header typedefs them
_FLOAT_N = {"_Float32": "float", "_Float64": "double", "_Float32x": "double"}

#: The compiler's builtin types pycparser does not know: declared to the
#: parser as opaque names and refused by name wherever one is used by value --
#: except __int128_t/__uint128_t, which the header builder resolves to the
#: i128/u128 scalars.
OPAQUE_BUILTINS = {"__builtin_va_list": "va_list", "_Float128": "_Float128", "__float128": "__float128",
                   "_Float64x": "_Float64x", "_Float128x": "_Float128x", "_Float16": "_Float16",
                   "__fp16": "__fp16", "__bf16": "__bf16", "__int128_t": "__int128",
                   "__uint128_t": "unsigned __int128", "__ibm128": "__ibm128", "__ieee128": "__ieee128",
                   "_Decimal32": "_Decimal32", "_Decimal64": "_Decimal64", "_Decimal128": "_Decimal128"}

#: ``_Complex _Float128`` and kin: one opaque name each (pycparser takes no specifier before a typedef name)
OPAQUE_BUILTINS.update({f"__c{name}": f"_Complex {display}" for name, display in list(OPAQUE_BUILTINS.items())})

_AUTO_ALIGN = 16   # __attribute__((aligned)): the target's largest alignment (__BIGGEST_ALIGNMENT__)


@dataclass
class Cleaned:
    text: str
    #: declared name -> the symbol its asm label names
    asm_labels: dict = field(default_factory=dict)
    #: (line, column) -> {"packed": True, "aligned": N or its expression's text, "mode": "DI", "vector_size": N}
    attributes: dict = field(default_factory=dict)
    #: builtin names the text uses (they need an opaque declaration)
    opaque: set = field(default_factory=set)


def _blank(s: str) -> str:
    return re.sub(r"[^\n]", " ", s)


def _layout_attributes(inner: str) -> dict:
    """The layout attributes among ``inner``, the text of ``((...))``."""
    # packed: True; aligned: an int, or a constant expression's text the builder folds; mode and
    # vector_size: their argument's text
    found: dict[str, bool | int | str] = {}
    for m in re.finditer(r"\b_*(packed|aligned|mode|vector_size)_*\b\s*(\(([^()]*(?:\([^()]*\)[^()]*)*)\))?",
                         inner):
        name, arg = m.group(1), m.group(3)
        if name == "packed":
            found["packed"] = True
        elif name == "aligned":
            n = _AUTO_ALIGN if arg is None else _small_int(arg)
            if n is None:
                found["aligned"] = arg.strip()
            else:
                before = found.get("aligned", 1)
                if isinstance(before, int):
                    found["aligned"] = max(before, n)
        elif name == "mode" and arg:
            found["mode"] = arg.strip().strip("_")
        elif name == "vector_size" and arg:
            found["vector_size"] = arg.strip()
    return found


def _small_int(text: str):
    text = text.strip()
    m = re.fullmatch(r"\(?\s*(\d+)\s*\)?", text)
    if m:
        return int(m.group(1))
    m = re.fullmatch(r"_Alignof\s*\(\s*(.*)\)|__alignof__\s*\(\s*(.*)\)", text)
    if m:   # aligned(__alignof__(long long)) and kin: the scalars' own alignment on LP64
        inner = (m.group(1) or m.group(2)).strip()
        return {"long long": 8, "long": 8, "double": 8, "long double": 16, "int": 4, "void *": 8}.get(inner)
    return None


def clean(text: str) -> Cleaned:
    """Apply the pre-pass to preprocessed text (directive lines already blanked)."""
    out = Cleaned("")
    typedefd = {name for name in _FLOAT_N if re.search(rf"\b{name}\s*;", text)}
    pieces: list[str] = []
    last = 0
    toks = [(m.start(), m.group()) for m in _TOKEN.finditer(text)]
    line_starts = None

    def position(offset: int) -> tuple[int, int]:
        nonlocal line_starts
        if line_starts is None:
            line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        import bisect
        i = bisect.bisect_right(line_starts, offset) - 1
        return i + 1, offset - line_starts[i] + 1

    def emit(start: int, end: int, replacement: str | None) -> None:
        nonlocal last
        pieces.append(text[last:start])
        span = text[start:end]
        pieces.append(_blank(span) if replacement is None else replacement.ljust(len(span)))
        last = end

    def matching(i: int, open_: str, close: str) -> int:
        depth = 0
        for j in range(i, len(toks)):
            t = toks[j][1]
            if t == open_:
                depth += 1
            elif t == close:
                depth -= 1
                if depth == 0:
                    return j
        raise_at = toks[i][0]
        raise HeaderSyntax(f"unbalanced {open_!r}", raise_at)

    # Significant tokens kept so far (indices into toks), and open braces:
    # (kind, the position a struct's attributes are recorded under).
    kept: list[int] = []
    braces: list[tuple[str, tuple | None]] = []
    decl_start = 0   # index into kept where the current file-scope declaration began
    i = 0
    n = len(toks)
    while i < n:
        start, tok = toks[i]
        if tok in _ATTRIBUTE:
            if i + 1 < n and toks[i + 1][1] == "(":
                j = matching(i + 1, "(", ")")
                inner = text[toks[i + 1][0]:toks[j][0] + 1]
                emit(start, toks[j][0] + 1, None)
                attrs = _layout_attributes(inner)
                if attrs:
                    key = _attribute_target(toks, kept, braces, i, j, position)
                    if key is not None:
                        out.attributes.setdefault(key, {}).update(attrs)
                i = j + 1
                continue
        elif tok in _ASM and not braces_in_body(braces):
            j = i + 1
            while j < n and toks[j][1] in ("volatile", "__volatile__", "goto", "inline"):
                j += 1
            if j < n and toks[j][1] == "(":
                k = matching(j, "(", ")")
                label = "".join(_string_body(t) for _, t in toks[j + 1:k] if t.startswith('"'))
                emit(start, toks[k][0] + 1, None)
                name = _declared_name(toks, kept[decl_start:])
                if name is not None and label and not braces:
                    out.asm_labels[name] = label
                i = k + 1
                continue
        elif tok in _DROP:
            emit(start, start + len(tok), None)
            i += 1
            continue
        elif tok in _RENAME:
            emit(start, start + len(tok), _RENAME[tok])
            i += 1
            if _RENAME[tok]:
                kept.append(i - 1)
            continue
        elif tok in ("_Complex", "__complex__") and i + 1 < n and toks[i + 1][1] in OPAQUE_BUILTINS:
            name = "__c" + toks[i + 1][1]
            end = toks[i + 1][0] + len(toks[i + 1][1])
            emit(start, end, name)
            out.opaque.add(name)
            kept.append(i + 1)
            i += 2
            continue
        elif tok in _FLOAT_N and tok not in typedefd:
            emit(start, start + len(tok), _FLOAT_N[tok])
            kept.append(i)
            i += 1
            continue
        elif tok in OPAQUE_BUILTINS:   # (__int128 is not among them: pycparser knows it as a type)
            out.opaque.add(tok)
        elif tok == "{":
            prev = toks[kept[-1]][1] if kept else ""
            if not braces and prev == ")":
                # A function body at file scope: an inline function, never bound.
                j = matching(i, "{", "}")
                emit(toks[i][0] + 1, toks[j][0], None)
                kept.extend((i, j))
                i = j + 1
                decl_start = len(kept)
                continue
            braces.append(_brace_kind(toks, kept, i, position))
        elif tok == "}":
            if braces:
                braces.pop()
        kept.append(i)
        if tok == ";" and not braces:
            decl_start = len(kept)
        i += 1
    pieces.append(text[last:])
    out.text = "".join(pieces)
    return out


def braces_in_body(braces) -> bool:
    return any(kind == "body" for kind, _ in braces)


class HeaderSyntax(Exception):
    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.offset = offset


def _string_body(tok: str) -> str:
    return tok[tok.index('"') + 1:-1]


def _brace_kind(toks, kept, i, position):
    """What a '{' opens: a struct/union/enum body (with the position pycparser
    reports for it: its tag, or this brace) or something else."""
    prev = toks[kept[-1]][1] if kept else ""
    before = toks[kept[-2]][1] if len(kept) > 1 else ""
    if prev in ("struct", "union", "enum"):
        return ("struct", position(toks[i][0]))
    if before in ("struct", "union", "enum") and re.match(r"[A-Za-z_]", prev):
        return ("struct", position(toks[kept[-1]][0]))
    return ("other", None)


def _attribute_target(toks, kept, braces, i, j, position):
    """Where attributes at toks[i..j] apply, as the position pycparser reports
    for it; None when they apply to something not laid out."""
    prev = toks[kept[-1]][1] if kept else ""
    if prev in ("struct", "union", "enum"):
        # struct __attribute__((packed)) tag { ... } or struct __attribute__((packed)) { ... }
        nxt = j + 1
        if nxt < len(toks):
            return position(toks[nxt][0])
        return None
    if prev == "}":
        # } __attribute__((packed)): the struct that brace closes
        depth = 0
        for k in range(len(kept) - 1, -1, -1):
            t = toks[kept[k]][1]
            if t == "}":
                depth += 1
            elif t == "{":
                depth -= 1
                if depth == 0:
                    kind = _brace_kind(toks, kept[:k], kept[k], position)
                    return kind[1]
        return None
    # A declarator: its identifier, skipping array suffixes back to it.
    k = len(kept) - 1
    while k >= 0:
        t = toks[kept[k]][1]
        if t == "]":
            depth = 0
            while k >= 0:
                t = toks[kept[k]][1]
                if t == "]":
                    depth += 1
                elif t == "[":
                    depth -= 1
                    if depth == 0:
                        break
                k -= 1
            k -= 1
            continue
        if re.match(r"[A-Za-z_]", t):
            return position(toks[kept[k]][0])
        return None
    return None


def _declared_name(toks, indices) -> str | None:
    """The name a file-scope declaration declares: the identifier before its
    first '(' at parenthesis depth 0 (a function), else its last identifier."""
    depth = 0
    last = None
    for pos, k in enumerate(indices):
        t = toks[k][1]
        if t == "(":
            if depth == 0 and pos and re.match(r"[A-Za-z_]", toks[indices[pos - 1]][1]):
                return toks[indices[pos - 1]][1]
            depth += 1
        elif t == ")":
            depth -= 1
        elif depth == 0 and re.match(r"[A-Za-z_]", t):
            last = t
    return last


__all__ = ["Cleaned", "HeaderSyntax", "OPAQUE_BUILTINS", "clean"]
