"""Whole headers: ``fastffi.cdef(text)`` and ``fastffi.include("zlib.h")``.

A :class:`Header` is what a header declares -- functions, constants
(``#define``s and enumerators), types, global variables -- ready for
:func:`fastffi.dlopen` to bind lazily.  Equal inputs give the same Header
within a process (so a struct class from one call is the class functions
bound from another expect); an included header is read again when the
preprocessor, the flags or any file it read changed."""
from __future__ import annotations

import os
import threading
from typing import Any, Mapping

from .cdecl import preprocess as cpp
from .cdecl.header import Parsed, Refused, Unsupported, parse_text
from .cdecl.spelling import normalize, resolve_type
from .errors import SignatureError
from .model.namespace import DEFAULT, Namespace, is_aggregate


class Header:
    """What a C header declares (see :func:`cdef` and :func:`include`)."""

    def __init__(self, name: str, parsed: Parsed):
        self.name = name
        self._parsed = parsed
        self._namespace: Namespace | None = None

    # ---- tables ----

    @property
    def functions(self) -> dict[str, Any]:
        """name -> Signature; functions that cannot be bound map to a
        :class:`Refused` saying why (a type fastffi lacks, a static inline
        function)."""
        return dict(self._parsed.functions)

    @property
    def constants(self) -> dict[str, Any]:
        """name -> int, float or str: the object-like ``#define``s that are
        constant expressions, and every enumerator."""
        return dict(self._parsed.constants)

    @property
    def types(self) -> dict[str, Any]:
        """C name (``"z_stream"``, ``"struct stat"``, ``"enum color"``) -> type,
        for every type fastffi can represent."""
        return {k: v for k, v in self._parsed.types.items() if not isinstance(v, Unsupported)}

    @property
    def variables(self) -> dict[str, Any]:
        """name -> type (``(type, n)`` for an array) of each global variable."""
        out = {}
        for name, entry in self._parsed.variables.items():
            if isinstance(entry, Refused):
                out[name] = entry
            else:
                t, count = entry
                out[name] = t if count is None else (t, count)
        return out

    @property
    def macros(self) -> dict[str, str]:
        """Function-like macros, by name: listed, never callable."""
        return dict(self._parsed.macros)

    @property
    def unsupported(self) -> dict[str, str]:
        """Types the header declares that fastffi cannot represent, with the reason."""
        return {k: v.reason for k, v in self._parsed.types.items() if isinstance(v, Unsupported)}

    @property
    def own(self) -> frozenset[str]:
        """The names declared in the header's own file (not in what it includes)."""
        return frozenset(self._parsed.own)

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(self._parsed.files)

    def symbol(self, name: str) -> str:
        """The symbol a declared name binds: its asm label's, or the name."""
        return self._parsed.symbols.get(name, name)

    def type(self, name: str):
        """The type a C name denotes: ``h.type("struct stat")``, ``h.type("z_stream")``."""
        text = normalize(name)
        t = self._parsed.types.get(text)
        if t is None:
            raise SignatureError(f"{self.name} declares no type {name!r}")
        if isinstance(t, Unsupported):
            raise SignatureError(f"{name}: {t.reason}")
        return t

    def names(self) -> set[str]:
        """Every name a Library bound to this header answers to."""
        p = self._parsed
        return set(p.functions) | set(p.constants) | set(p.variables) | set(p.macros)

    @property
    def namespace(self) -> Namespace:
        """The header's types as a namespace over the default one (what
        ``lib.function(decl)`` of a library bound to it resolves names in)."""
        if self._namespace is None:
            ns = Namespace(DEFAULT)
            for name, t in self.types.items():
                kind, _, tag = name.partition(" ")
                if tag and kind in ("struct", "union", "enum"):
                    ns._tags[kind, tag] = t
                elif not hasattr(t, "restype"):
                    ns._typedefs[name] = t
            self._namespace = ns
        return self._namespace

    # ---- merging ----

    def __add__(self, other: "Header") -> "Header":
        if not isinstance(other, Header):
            return NotImplemented
        a, b = self._parsed, other._parsed
        merged = Parsed(functions={**a.functions, **b.functions}, constants={**a.constants, **b.constants},
                        types={**a.types, **b.types}, variables={**a.variables, **b.variables},
                        symbols={**a.symbols, **b.symbols}, macros={**a.macros, **b.macros},
                        own=a.own | b.own, files=a.files + [f for f in b.files if f not in a.files])
        return Header(f"{self.name} + {other.name}", merged)

    def __repr__(self) -> str:
        p = self._parsed
        return (f"<fastffi.Header {self.name!r}: {len(p.functions)} functions, {len(p.constants)} constants, "
                f"{len(self.types)} types, {len(p.variables)} variables>")


_lock = threading.Lock()
_cdefs: dict = {}
_includes: dict = {}


def cdef(text: str, *, types: Mapping | None = None) -> Header:
    """The declarations of C text without a preprocessor: typedefs, struct,
    union and enum definitions, prototypes (variadic ones too), ``extern``
    variables and ``#define NAME <constant expression>`` lines.  ``types``
    names types the text uses without defining them.  ``#include`` and
    ``#if`` raise :class:`SignatureError`: use :func:`include` for those."""
    if not isinstance(text, str):
        raise TypeError(f"cdef() expected C text (str), got {type(text).__name__}")
    resolved = None
    key: Any = text
    if types:
        if not isinstance(types, Mapping):
            raise TypeError(f"types= must be a mapping of names to types, got {type(types).__name__}")
        resolved = {name: resolve_type(spec) for name, spec in types.items()}
        key = (text, tuple(sorted((k, id(v)) for k, v in resolved.items())))
    with _lock:
        h = _cdefs.get(key)
    if h is None:
        h = Header("<cdef>", parse_text(text, "<cdef>", preprocessed=False, types=resolved))
        with _lock:
            h = _cdefs.setdefault(key, h)
    return h


def _stat(path: str):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def include(header, *, include_dirs=(), defines: Mapping | None = None, cflags=(), prelude: str = "",
            cc: str | None = None) -> Header:
    """An installed header, found and preprocessed by the system C
    preprocessor (``cc`` from the argument, ``$CC``, then cc/gcc/clang/cpp):
    ``include("zlib.h")``, ``include("openssl/evp.h")`` or a path.
    :class:`HeaderError` if there is no preprocessor or no such header."""
    header = os.fspath(header)
    if not isinstance(header, str):
        raise TypeError(f"include() expected a header name (str), got {type(header).__name__}")
    compiler = cpp.find_compiler(cc)
    key = (header, tuple(os.fspath(d) for d in include_dirs), tuple(sorted((defines or {}).items())),
           tuple(cflags), prelude, compiler, _stat(compiler))
    with _lock:
        entry = _includes.get(key)
    if entry is not None:
        h, stamps = entry
        if all(_stat(f) == s for f, s in stamps):
            return h
    text = cpp.preprocess(header, compiler, include_dirs, defines, cflags, prelude)
    own = os.path.abspath(header) if os.sep in header and os.path.exists(header) else header
    parsed = parse_text(text, header, preprocessed=True, own_suffix=own)
    h = Header(header, parsed)
    stamps = tuple((f, _stat(f)) for f in parsed.files)
    with _lock:
        old = _includes.get(key)
        if old is not None and old[1] == stamps:
            return old[0]
        _includes[key] = (h, stamps)
    return h


__all__ = ["Header", "Refused", "cdef", "include", "is_aggregate"]
