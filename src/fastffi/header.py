"""Whole headers: ``fastffi.cdef(text)`` and ``fastffi.include("zlib.h")``.

A :class:`Header` is what a header declares -- functions, constants
(``#define``s and enumerators), types, global variables -- ready for
:func:`fastffi.dlopen` to bind lazily: its entries are decoded from compact
tables (:mod:`fastffi.cdecl.tables`) the first time something asks for them.
Equal inputs give the same Header within a process (so a struct class from
one call is the class functions bound from another expect); an included
header is read again when the preprocessor, the flags or any file it read
changed, and its tables are cached on disk (:mod:`fastffi.cdecl.cache`)."""
from __future__ import annotations

import os
import threading
from typing import Any, Mapping

from .cdecl import cache as disk
from .cdecl import preprocess as cpp
from .cdecl.entries import Refused, Unsupported
from .cdecl.spelling import normalize, resolve_type
from .cdecl.tables import Tables, from_parsed
from .errors import SignatureError
from .model.namespace import DEFAULT, TAG_KINDS, Namespace
from .version import __version__


class Header:
    """What a C header declares (see :func:`cdef` and :func:`include`)."""

    def __init__(self, name: str, parts: "tuple[Tables, ...]"):
        self.name = name
        self._parts = parts   # later parts win (h + other)
        self._names: frozenset | None = None
        self._namespace: Namespace | None = None

    def _find(self, method: str, name: str):
        for part in reversed(self._parts):
            try:
                return getattr(part, method)(name)
            except KeyError:
                continue
        raise KeyError(name)

    def _keys(self, method: str) -> list[str]:
        seen: dict[str, None] = {}
        for part in self._parts:
            seen.update(dict.fromkeys(getattr(part, method)()))
        return list(seen)

    # ---- tables ----

    @property
    def functions(self) -> dict[str, Any]:
        """name -> Signature; functions that cannot be bound map to a
        :class:`Refused` saying why (a type fastffi lacks, a static inline
        function)."""
        return {name: self._find("function", name) for name in self._keys("function_names")}

    def function(self, name: str):
        """The Signature (or Refused) of one function; KeyError if the header declares none."""
        return self._find("function", name)

    @property
    def constants(self) -> dict[str, Any]:
        """name -> int, float or str: the object-like ``#define`` lines that are
        constant expressions, and every enumerator."""
        out: dict = {}
        for part in self._parts:
            out.update(part.constants)
        return out

    @property
    def types(self) -> dict[str, Any]:
        """C name (``"z_stream"``, ``"struct stat"``, ``"enum color"``) -> type,
        for every type fastffi can represent."""
        out = {}
        for name in self._keys("type_names"):
            t = self._find("type", name)
            if not isinstance(t, Unsupported):
                out[name] = t
        return out

    @property
    def unsupported(self) -> dict[str, str]:
        """Types the header declares that fastffi cannot represent, with the reason."""
        out = {}
        for name in self._keys("type_names"):
            t = self._find("type", name)
            if isinstance(t, Unsupported):
                out[name] = t.reason
        return out

    @property
    def variables(self) -> dict[str, Any]:
        """name -> type (``(type, n)`` for an array) of each global variable,
        or a :class:`Refused`."""
        out = {}
        for name in self._keys("variable_names"):
            entry = self._find("variable", name)
            out[name] = entry if isinstance(entry, Refused) or entry[1] is not None else entry[0]
        return out

    def variable(self, name: str):
        """(type, count or None) or Refused; KeyError if not declared."""
        return self._find("variable", name)

    @property
    def macros(self) -> dict[str, str]:
        """Function-like macros, by name: listed, never callable."""
        out: dict = {}
        for part in self._parts:
            out.update(part.macros)
        return out

    @property
    def own(self) -> frozenset[str]:
        """The names declared in the header's own file (not in what it includes)."""
        return frozenset().union(*[part.own for part in self._parts])

    @property
    def files(self) -> tuple[str, ...]:
        """The files the preprocessor read."""
        return tuple(dict.fromkeys(f for part in self._parts for f in part.files))

    def symbol(self, name: str) -> str:
        """The symbol a declared name binds: its asm label's, or the name."""
        for part in reversed(self._parts):
            if name in part.symbols:
                return part.symbols[name]
        return name

    def type(self, name: str):
        """The type a C name denotes: ``h.type("struct stat")``, ``h.type("z_stream")``."""
        try:
            t = self._find("type", normalize(name))
        except KeyError:
            raise SignatureError(f"{self.name} declares no type {name!r}") from None
        if isinstance(t, Unsupported):
            raise SignatureError(f"{name}: {t.reason}")
        return t

    def names(self) -> frozenset[str]:
        """Every name a Library bound to this header answers to."""
        if self._names is None:
            names = set(self._keys("function_names")) | set(self._keys("variable_names"))
            for part in self._parts:
                names |= part.constants.keys() | part.macros.keys()
            self._names = frozenset(names)
        return self._names

    @property
    def namespace(self) -> Namespace:
        """The header's types as a namespace over the default one (what
        ``lib.function(decl)`` of a library bound to it resolves names in);
        each type is decoded when a text first names it."""
        if self._namespace is None:
            self._namespace = _HeaderNamespace(self)
        return self._namespace

    # ---- merging ----

    def __add__(self, other: "Header") -> "Header":
        if not isinstance(other, Header):
            return NotImplemented
        return Header(f"{self.name} + {other.name}", self._parts + other._parts)

    def __repr__(self) -> str:
        nfun = len(self._keys("function_names"))
        ntypes = len(self._keys("type_names"))
        return (f"<fastffi.Header {self.name!r}: {nfun} functions, {len(self.constants)} constants, "
                f"{ntypes} types, {len(self._keys('variable_names'))} variables>")


class _HeaderNamespace(Namespace):
    """A header's typedef names and tags, over the default namespace."""

    def __init__(self, header: Header):
        super().__init__(DEFAULT)
        self._header = header

    def _header_type(self, key: str):
        try:
            t = self._header._find("type", key)
        except KeyError:
            return None
        return None if isinstance(t, Unsupported) or hasattr(t, "restype") else t

    def typedef(self, name: str):
        return self._header_type(name) or super().typedef(name)

    def tag(self, kind: str, name: str):
        return self._header_type(f"{kind} {name}") or super().tag(kind, name)


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
        for name in resolved:
            kind, _, tag = name.partition(" ")
            if not isinstance(name, str) or (tag and kind not in TAG_KINDS):
                raise TypeError(f"types= maps C names to types, got the key {name!r}")
        key = (text, tuple(sorted((k, id(v)) for k, v in resolved.items())))
    with _lock:
        h = _cdefs.get(key)
    if h is None:
        from .cdecl.header import parse_text   # pycparser is imported only when something is parsed

        tables, _ = from_parsed(parse_text(text, "<cdef>", preprocessed=False, types=resolved))
        h = Header("<cdef>", (tables,))
        with _lock:
            h = _cdefs.setdefault(key, h)
    return h


def include(header, *, include_dirs=(), defines: Mapping | None = None, cflags=(), prelude: str = "",
            cc: str | None = None, cache: bool = True) -> Header:
    """An installed header, found and preprocessed by the system C
    preprocessor (``cc`` from the argument, ``$CC``, then cc/gcc/clang/cpp):
    ``include("zlib.h")``, ``include("openssl/evp.h")`` or a path.
    :class:`HeaderError` if there is no preprocessor or no such header.
    ``cache=False`` neither reads nor writes the on-disk cache."""
    header = os.fspath(header)
    if not isinstance(header, str):
        raise TypeError(f"include() expected a header name (str), got {type(header).__name__}")
    compiler = cpp.find_compiler(cc)
    inputs = (header, tuple(os.fspath(d) for d in include_dirs),
              tuple(sorted((str(k), None if v is None else str(v)) for k, v in (defines or {}).items())),
              tuple(cflags), prelude, os.getcwd() if not os.path.isabs(header) and os.sep in header else "",
              compiler, disk.stamp(compiler))
    with _lock:
        entry = _includes.get(inputs)
    if entry is not None and all(disk.stamp(f) == s for f, s in entry[1]):
        return entry[0]
    k = disk.key(__version__, *inputs)
    stored = disk.load(k) if cache else None
    if stored is not None:
        tables, stamps = Tables(stored[0]), tuple(stored[1])
    else:
        from .cdecl.header import parse_text   # pycparser is imported only when something is parsed

        text = cpp.preprocess(header, compiler, include_dirs, defines, cflags, prelude)
        own = os.path.abspath(header) if os.sep in header and os.path.exists(header) else header
        tables, raw = from_parsed(parse_text(text, header, preprocessed=True, own_suffix=own))
        stamps = tuple((f, disk.stamp(f)) for f in tables.files)
        if cache:
            disk.store(k, stamps, raw)
    h = Header(header, (tables,))
    with _lock:
        old = _includes.get(inputs)
        if old is not None and old[1] == stamps:
            return old[0]
        _includes[inputs] = (h, stamps)
    return h


__all__ = ["Header", "Refused", "cdef", "include"]
