"""Libraries and functions: dlopen, symbols, lifetime.

A function keeps its library's handle alive; ``close()`` makes every function
of the library raise :class:`LibraryClosedError` from then on, and the real
``dlclose`` waits for calls still in flight (``release_gil=True`` calls running
in other threads) -- see ``_core/runtime/library.c``."""
from __future__ import annotations

import os
from typing import Any, Mapping, overload

from . import _core
from .cdecl.entries import Refused
from .cdecl.spelling import IDENT, make_signature, parse_declaration, resolve_field_type
from .errors import LibraryError, SignatureError, SymbolError
from .findlib import find_library, is_short_name
from .header import Header
from .model.aggregates import array_class, box_class
from .model.scalars import Scalar
from .model.typed_pointers import result_class
from .model.signature import Signature
from .tiers import selection as tiers

RTLD_LAZY = os.RTLD_LAZY
RTLD_NOW = os.RTLD_NOW
RTLD_LOCAL = os.RTLD_LOCAL
RTLD_GLOBAL = os.RTLD_GLOBAL
RTLD_NODELETE = getattr(os, "RTLD_NODELETE", 0)
RTLD_NOLOAD = getattr(os, "RTLD_NOLOAD", 0)

_Function = _core.Function


def _signature(name_or_decl, restype, argtypes, types) -> Signature:
    if restype is None and argtypes is None:
        if not isinstance(name_or_decl, str):
            raise TypeError(f"expected a C declaration or a name, got {type(name_or_decl).__name__}")
        if IDENT.fullmatch(name_or_decl.strip()):
            raise TypeError(f"function({name_or_decl!r}) needs restype and argtypes, or a whole C declaration")
        return parse_declaration(name_or_decl, types)
    if argtypes is None:
        raise TypeError("argtypes is required with restype (use [] for no arguments)")
    if not isinstance(name_or_decl, str):
        raise TypeError(f"function name must be a str, got {type(name_or_decl).__name__}")
    return make_signature(name_or_decl, "void" if restype is None else restype, argtypes, types)


class Library:
    """A loaded shared library (see :func:`dlopen`)."""

    def __init__(self, name, handle, *, release_gil: bool, use_errno: bool, tier: str, types,
                 header: Header | None = None):
        object.__setattr__(self, "_header", header)
        self._name = name
        self._handle = handle
        self._defaults: dict[str, Any] = {"release_gil": release_gil, "use_errno": use_errno, "tier": tier}
        self._types = types if types is not None or header is None else header.namespace
        self._definitions: dict[str, Any] = {}

    # ---- functions ----

    def function(self, name_or_decl: str, restype=None, argtypes=None, *, release_gil: bool | None = None,
                 use_errno: bool | None = None, tier: str | None = None, types: Mapping | None = None):
        """A callable for a function of this library.

        ``lib.function("crc32", "u64", ["u64", "pointer", "u32"])`` or
        ``lib.function("unsigned long crc32(unsigned long, const void *, unsigned)")``.
        Options default to those given to :func:`dlopen`."""
        scope = types if types is not None else self._types   # a types= mapping or the header's namespace
        text = name_or_decl if restype is None and argtypes is None else None
        return self._create(_signature(name_or_decl, restype, argtypes, scope), release_gil, use_errno, tier, scope,
                            declaration=text)

    def symbol(self, name: str) -> int:
        """The address of ``name`` as an int; :class:`SymbolError` if missing."""
        return self._handle.symbol(name)

    def _create(self, sig: Signature, release_gil=None, use_errno=None, tier=None, types=None, symbol=None,
                declaration=None):
        d = self._defaults
        return tiers.create(self._handle.symbol(sig.name if symbol is None else symbol), sig, handle=self._handle,
                            release_gil=d["release_gil"] if release_gil is None else release_gil,
                            use_errno=d["use_errno"] if use_errno is None else use_errno,
                            tier=d["tier"] if tier is None else tier,
                            types=self._types if types is None else types,   # what fn.variadic() resolves in
                            declaration=declaration)

    def _define(self, definitions: Mapping[str, Any]) -> None:
        sigs, texts = {}, {}
        for symbol, spec in definitions.items():
            if isinstance(spec, str):
                sig = _signature(spec, None, None, self._types)
                if sig.name != symbol:
                    raise SignatureError(f"definition {symbol!r} declares a function named {sig.name!r}")
            elif isinstance(spec, tuple) and len(spec) == 2:
                sig = _signature(symbol, spec[0], spec[1], self._types)
            else:
                raise TypeError(f"definition {symbol!r}: expected (restype, argtypes) or a C declaration, "
                                f"got {spec!r}")
            sigs[symbol] = sig
            texts[symbol] = spec if isinstance(spec, str) else None
        # Definitions are emitted together: their JIT code shares pages
        # (kept alive here until the functions hold it).
        installed = tiers.install_together(sigs.values(), **self._defaults)
        for symbol, sig in sigs.items():
            self._definitions[symbol] = self._create(sig, declaration=texts[symbol])
        del installed

    def __getitem__(self, name: str):
        """A definition, or any name of the library's header (also one a
        Library attribute shadows: ``libc["close"]``)."""
        found = self._definitions.get(name)
        if found is not None:
            return found
        header = self._header
        if header is not None and name in header.names():
            return self._from_header(name)
        raise SymbolError(f"{name!r} is not among the definitions of {self._name!r}") from None

    def __getattr__(self, name: str):
        # Only reached when normal lookup fails: methods always win over definitions.
        definitions = self.__dict__.get("_definitions")
        if definitions is not None and name in definitions:
            return definitions[name]
        header = self.__dict__.get("_header")
        if header is not None and name in header.names():
            return self._from_header(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value) -> None:
        header = self.__dict__.get("_header")
        if header is not None and name in header.names() and _is_variable(header, name):
            self._write_variable(name, value)
            return
        object.__setattr__(self, name, value)

    # ---- a header's names, bound on first use ----

    def _from_header(self, name: str):
        h = self._header
        try:
            entry = h.function(name)
        except KeyError:
            pass
        else:
            if isinstance(entry, Refused):
                raise entry.error()
            return self._bound(name, entry)
        if _is_variable(h, name):
            return self._read_variable(name)
        constants = h.constants
        if name in constants:
            value = constants[name]
            if not any(name in c.__dict__ for c in type(self).__mro__):
                self.__dict__[name] = value   # constants never change: the next read is a plain attribute
            return value
        macros = h.macros
        if name in macros:
            raise SignatureError(f"{name}: a function-like macro of the header ({macros[name]}): "
                                 f"it is expanded by the C compiler and has no symbol to call")
        raise SymbolError(f"{name!r} is not declared by {h.name!r}")

    def _bound(self, name: str, sig: Signature):
        fn = self.__dict__.get("_functions", {}).get(name)
        if fn is None:
            fn = self._create(sig, symbol=self._header.symbol(name))
            self.__dict__.setdefault("_functions", {})[name] = fn
            if not any(name in c.__dict__ for c in type(self).__mro__):
                # Cached on the instance: the next lib.name is a plain attribute read.
                self.__dict__[name] = fn
        return fn

    def _variable_entry(self, name: str):
        entry = self._header.variable(name)
        if isinstance(entry, Refused):
            raise entry.error()
        return entry

    def _read_variable(self, name: str):
        t, count = self._variable_entry(name)
        address = self._handle.symbol(self._header.symbol(name))
        if count is None and isinstance(t, Scalar):
            value = _core.read_scalar(address, 0, t.kind)
            cls = _pointer_class(self._header, t)
            return value if cls is None else cls(value)
        return _view_at(address, t, count, self)

    def _write_variable(self, name: str, value) -> None:
        t, count = self._variable_entry(name)
        address = self._handle.symbol(self._header.symbol(name))
        if count is None and isinstance(t, Scalar):
            _core.write_scalar(address, 0, t.kind, value, f"{self._name}.{name}")
            return
        view = _view_at(address, t, count, self)
        if count is None:
            if type(value) is not t:
                raise TypeError(f"{name}: expected {t.__name__}, got {type(value).__name__}")
            _core.copy(view, value, t._size_)
        else:
            items = list(value)
            if len(items) != count:
                raise ValueError(f"{name}: expected a sequence of {count} items, got {len(items)}")
            view[:] = items

    def variable(self, name: str, type_, *, types: Mapping | None = None):
        """The global variable ``name`` of this library as a live view of
        its memory (ctypes' ``in_dll``): a scalar gives a box whose
        ``.value`` reads and writes it, a struct an instance over it,
        ``"T[n]"`` or ``(T, n)`` an array.  :class:`SymbolError` if missing."""
        t, count = resolve_field_type(type_, types if types is not None else self._types)
        address = self._handle.symbol(name)
        if count is None and isinstance(t, Scalar):
            return _core.cdata_view(box_class(t), address, t.size, self)
        return _view_at(address, t, count, self)

    def __contains__(self, name: str) -> bool:
        header = self._header
        return name in self._definitions or (header is not None and name in header.names())

    def __dir__(self):
        header = self._header
        extra = header.names() if header is not None else set()
        return sorted(set(super().__dir__()) | set(self._definitions) | extra)

    @property
    def header(self) -> Header | None:
        """The header given to :func:`dlopen`, if any."""
        return self._header

    @property
    def definitions(self) -> dict[str, Any]:
        """The functions defined at dlopen, by symbol name."""
        return dict(self._definitions)

    # ---- lifetime ----

    @property
    def name(self):
        """What was passed to :func:`dlopen`."""
        return self._name

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def close(self) -> None:
        """Refuse every further call of this library's functions
        (:class:`LibraryClosedError`); idempotent.  The library is unloaded when
        no call is in flight any more."""
        self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " (closed)" if self.closed else ""
        return f"<fastffi.Library {self._name!r}{state}>"


def _pointer_class(header: Header, t):
    """The typed pointer class of a ``T *`` global, or None (a plain int): a
    ``T`` incomplete where the global was declared is the one the header
    completes, if it does."""
    def resolve(name: str):
        try:
            found = header.type(name)
        except SignatureError:
            return None
        return found if isinstance(found, type) and hasattr(found, "_layout_") else None

    return result_class(t, resolve)


def _is_variable(header: Header, name: str) -> bool:
    try:
        header.variable(name)
    except KeyError:
        return False
    return True


def _view_at(address: int, t, count, owner):
    """A live view of ``count`` (None: one) values of ``t`` at ``address``."""
    if count is None:
        return _core.cdata_view(t, address, t._size_, owner)
    return array_class(t)._over(address, count, owner)


@overload
def dlopen(name, definitions: Header, *, mode: int | None = None, release_gil: bool = False,
           use_errno: bool = False, tier: str = "auto", types: Mapping | None = None) -> Any: ...
@overload
def dlopen(name, definitions: "Mapping[str, Any] | None" = None, *, mode: int | None = None,
           release_gil: bool = False, use_errno: bool = False, tier: str = "auto",
           types: Mapping | None = None) -> Library: ...


def dlopen(name, definitions: "Mapping[str, Any] | Header | None" = None, *, mode: int | None = None,
           release_gil: bool = False, use_errno: bool = False, tier: str = "auto",
           types: Mapping | None = None) -> Any:
    """Load a shared library.

    ``name`` is a path (str or os.PathLike), a bare soname given to the loader as
    is (``"libz.so.1"``), a short name found the way the dynamic linker finds
    ``-lz`` (``"z"``, ``"sqlite3"``), or None for the running process.  ``definitions`` maps
    symbol names to ``(restype, argtypes)`` or a C declaration; each becomes
    ``lib[name]`` (and ``lib.name`` unless that would shadow a method).  It
    may be a :class:`~fastffi.header.Header` instead: then every function,
    constant and global variable of the header is an attribute, each function
    created on first access (a missing symbol raises :class:`SymbolError` then).
    Bound to a Header it is typed ``Any``: annotate it with the class that
    ``python -m fastffi stubgen`` writes (``z: libz.Lib = dlopen(...)``).
    ``mode`` defaults to RTLD_NOW | RTLD_LOCAL.  The other options are the
    defaults of the library's functions.  Raises :class:`LibraryError` with the
    loader's message, or :class:`SymbolError` for a missing definition."""
    if is_short_name(name):
        found = find_library(name)
        if found is None:
            raise LibraryError(f"cannot find library {name!r} (as lib{name}.so in LD_LIBRARY_PATH, "
                               f"ldconfig's cache or the default directories)")
        path = os.fsencode(found)
    elif name is None:
        path = None
    else:
        path = os.fsencode(name)
        if isinstance(name, os.PathLike):
            name = os.fspath(name)
    handle = _core.LibraryHandle(name, path, RTLD_NOW | RTLD_LOCAL if mode is None else mode)
    header = definitions if isinstance(definitions, Header) else None
    lib = Library(name, handle, release_gil=release_gil, use_errno=use_errno, tier=tier, types=types,
                  header=header)
    if definitions and not isinstance(definitions, Header):
        try:
            lib._define(definitions)
        except BaseException:
            lib.close()
            raise
    return lib


def function(address: int, restype, argtypes=None, name: str | None = None, *, release_gil: bool = False,
             use_errno: bool = False, tier: str = "auto", types: Mapping | None = None):
    """A callable for the C function at a raw ``address``.

    ``fastffi.function(addr, "i32", ["i32", "i32"], name="add")`` or
    ``fastffi.function(addr, "int add(int, int)")``.  The address must stay valid
    (nothing keeps its library loaded).  Given an existing function instead of
    an address, the new one shares its library: it keeps the library's handle
    and raises :class:`LibraryClosedError` once the library is closed."""
    handle = None
    if isinstance(address, _Function):
        handle = address._handle_
        address = address.address
    text = None
    if argtypes is None and isinstance(restype, str) and "(" in restype:
        sig = parse_declaration(restype, types)
        text = restype
        if name is not None:
            sig = sig._replace(name=name)
    else:
        if argtypes is None:
            raise TypeError("argtypes is required (use [] for no arguments)")
        sig = make_signature(name if name is not None else _address_name(address), restype, argtypes, types)
    return tiers.create(address, sig, handle=handle, release_gil=release_gil, use_errno=use_errno, tier=tier,
                        types=types, declaration=text)


def _address_name(address) -> str:
    return f"fn_0x{address:x}" if isinstance(address, int) and address >= 0 else "function"


__all__ = ["Library", "dlopen", "function", "RTLD_LAZY", "RTLD_NOW", "RTLD_LOCAL", "RTLD_GLOBAL",
           "RTLD_NODELETE", "RTLD_NOLOAD"]
