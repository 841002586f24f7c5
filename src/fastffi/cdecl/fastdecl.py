"""The common shapes of a C function declaration, read without a C parser.

``int f(int a, const char *b, struct point *p, ...)``: a result type, a name
and parameters that are each a run of type specifiers (or one typedef name,
or ``struct``/``union`` and a tag), ``const`` before them, stars after and
an optional name.  That covers nearly every declaration people write, and
reading it is a regular expression and a few table lookups (≈ 10 µs) where
pycparser costs ≈ 1 ms.  A parameter may be a function pointer too
(``void (*cb)(int, void *)``, one level).  Anything else -- other function pointers, arrays,
``const`` after a star, enums, an unknown type by value, a name that is also
a typedef -- gets None here and goes to :mod:`.parser`, which gives the same
answer for what both read (tests/cdecl/test_fastdecl.py checks both agree)
and the error messages for what is wrong."""
from __future__ import annotations

import re
from typing import Any, Protocol

from ..model.pointers import FunctionType, Opaque, pointer_to
from ..model.scalars import C_SPELLINGS, VOID, Scalar, scalar
from ..model.signature import Signature
from .prepass import OPAQUE_BUILTINS

class TypeNames(Protocol):
    """What the reader asks of the names in scope: a Namespace, or the names of the
    header being bound (cdecl/header.py)."""

    def typedef(self, name: str) -> Any: ...

    def tag(self, kind: str, name: str) -> Any: ...


_TOKEN = re.compile(r"\s*(?:([A-Za-z_]\w*)|(\.\.\.)|([*(),;]))")
_SPECIFIERS = frozenset(["void", "char", "short", "int", "long", "float", "double", "signed", "unsigned", "_Bool"])
#: words that make the shape one this module does not read
_OTHER_KEYWORDS = frozenset("""
auto break case continue default do else enum extern for goto if inline register restrict return sizeof
static switch typedef volatile while _Complex _Atomic _Noreturn _Alignas _Alignof _Thread_local __restrict
__restrict__ __inline __inline__ __extension__ __const __attribute__ __asm__ struct union const
""".split()) | _SPECIFIERS | {"__int128"} | set(OPAQUE_BUILTINS) \
    | {"complex"}   # complex.h's macro for _Complex: the parser reads it
_ORDER = {w: i for i, w in enumerate(["signed", "unsigned", "short", "long", "char", "int", "float", "double",
                                       "_Bool", "void"])}


#: pointer levels read here; deeper chains go to the parser, which bounds nesting (parser.MAX_TREE_DEPTH)
MAX_STARS = 8


class _Unread(Exception):
    """Not a shape this module reads: the parser decides."""


def _tokens(text: str) -> list[str]:
    out = []
    pos, n = 0, len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos:].strip() == "":
                break
            raise _Unread
        out.append(m[m.lastindex or 0])   # every alternative is a group: lastindex is set
        pos = m.end()
    return out


def _scalar_of(words):
    return scalar(" ".join(words)) or scalar(" ".join(sorted(words, key=lambda w: _ORDER.get(w, 99))))


class _Reader:
    def __init__(self, toks, ns: TypeNames):
        self.toks = toks
        self.i = 0
        self.ns = ns

    def peek(self) -> str:
        return self.toks[self.i] if self.i < len(self.toks) else ""

    def take(self) -> str:
        tok = self.peek()
        self.i += 1
        return tok

    def type(self):
        """(type, is it void by value) of a type at the cursor."""
        const = False
        words: list[str] = []
        tag = None
        named = None
        while True:
            tok = self.peek()
            if tok == "const":
                const = True
            elif tok in _SPECIFIERS and named is None and tag is None:
                words.append(tok)
            elif tok in ("struct", "union") and not words and tag is None and named is None:
                self.take()
                name = self.peek()
                if not _is_name(name):
                    raise _Unread
                tag = (tok, name)
            elif _is_name(tok) and not words and tag is None and named is None:
                named = tok
            else:
                break
            self.take()
        stars = 0
        while self.peek() == "*":
            self.take()
            stars += 1
        if self.peek() in ("const", "volatile", "restrict"):
            raise _Unread   # a qualified pointer: the parser reads where the qualifier applies
        if stars > MAX_STARS:
            raise _Unread   # the parser's depth limits and their message
        return self._resolve(const, words, tag, named, stars)

    def _resolve(self, const, words, tag, named, stars):
        ns = self.ns
        if tag is not None:
            pointee = ns.tag(*tag)
            if not stars:
                if pointee is None:
                    raise _Unread
                return pointee
            pointee = pointee or Opaque(f"{tag[0]} {tag[1]}")
        elif words:
            if stars and words == ["char"]:
                return self._stars(pointer_to(scalar("char"), const, string=True), stars - 1)
            pointee = _scalar_of(words)
            if pointee is None:
                raise _Unread   # a misspelling: the parser's message
            if not stars:
                return pointee
        elif named is not None:
            if stars and named == "wchar_t":   # wchar_t * is the wstring kind
                return self._stars(pointer_to(scalar("wchar_t"), const, wide=True), stars - 1)
            t = _scalar_of([named]) if named in C_SPELLINGS else None
            if t is None:
                t = ns.typedef(named)
            if not stars:
                if t is None:
                    raise _Unread
                return t
            pointee = t if t is not None else Opaque(named)
        else:
            raise _Unread
        return self._stars(pointer_to(pointee, const), stars - 1)

    @staticmethod
    def _stars(t, n: int):
        for _ in range(n):
            t = pointer_to(t, False)
        return t

    def parameters(self, outer: bool) -> tuple[list, int | None]:
        """The parameters after a ``(``, through the ``)``: their types and the
        fixed-argument count of a ``...`` list (None without one).  A parameter
        may be a function pointer, ``T (*name)(parameters)`` (``outer``: not
        inside one already -- deeper nesting goes to the parser)."""
        args: list = []
        names = set()
        nfixed = None
        if self.peek() == "void" and self.toks[self.i + 1:self.i + 2] == [")"]:
            self.take()
        elif self.peek() != ")":
            while True:
                if self.peek() == "...":
                    self.take()
                    if not args or self.peek() != ")":
                        raise _Unread
                    nfixed = len(args)
                    break
                t = self.type()
                if self.peek() == "(" and outer:
                    t = self.function_pointer(t)
                    pname = self.name()
                    if self.take() != ")" or self.take() != "(":
                        raise _Unread
                    inner, inner_fixed = self.parameters(False)
                    t = pointer_to(FunctionType(t, tuple(inner), inner_fixed is not None))
                elif t is VOID:
                    raise _Unread
                else:
                    pname = self.name()
                if pname is not None:
                    if pname in names:
                        raise _Unread
                    names.add(pname)
                args.append(t)
                if self.peek() != ",":
                    break
                self.take()
        if self.take() != ")":
            raise _Unread
        return args, nfixed

    def function_pointer(self, restype):
        """At ``(*`` after a parameter's result type: past the ``*``.
        C11 6.7.6.3p8: such a parameter is a pointer to a function returning
        ``restype`` -- one star only here (a pointer to a function pointer, and
        a qualified one, go to the parser)."""
        self.take()
        if self.take() != "*" or self.peek() in ("*", "const", "volatile", "restrict", "("):
            raise _Unread
        if isinstance(restype, type) or restype is VOID or isinstance(restype, Scalar):
            return restype
        raise _Unread

    def name(self) -> str | None:
        tok = self.peek()
        if _is_name(tok):
            if tok in C_SPELLINGS or self.ns.typedef(tok) is not None:
                raise _Unread   # a name that is also a type name: the parser knows the scoping
            self.take()
            return tok
        return None

    def required_name(self) -> str:
        name = self.name()
        if name is None:
            raise _Unread
        return name


def _is_name(tok: str) -> bool:
    return bool(tok) and (tok[0].isalpha() or tok[0] == "_") and tok not in _OTHER_KEYWORDS


def fast_signature(text: str, ns: TypeNames) -> Signature | None:
    """The Signature of a declaration of a common shape, or None."""
    try:
        toks = _tokens(text)
        if toks and toks[-1] == ";":
            toks.pop()
        r = _Reader(toks, ns)
        restype = r.type()
        name = r.required_name()
        if r.take() != "(":
            raise _Unread
        args, nfixed = r.parameters(True)
        if r.i != len(toks):
            raise _Unread
    except (_Unread, IndexError):
        return None
    return Signature(name, restype, tuple(args), nfixed)


__all__ = ["fast_signature"]
