"""The peers compared: ways of calling the targets from Python.

A peer turns a case into a ``Binding``: a callable and the argument tuple to
call it with, both built once, outside any timed loop.  ``bind`` checks the
result against the case's expected value first, so nothing that returns a
wrong answer is ever timed.  Peers open libraries lazily, so a process that
runs one peer (the callgrind worker) pays for nothing else.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Collection, Iterator

from . import build
from .cases import TARGETS, Case, StructSpec, c_declarations


class Unavailable(Exception):
    """The peer cannot run at all here (the message says why)."""


class Unsupported(Exception):
    """The peer cannot run this case (the message says why)."""


@dataclass(frozen=True)
class Binding:
    fn: Callable
    args: tuple


class Peer:
    """Base class: subclasses open libraries, look up functions, build structs."""

    name: str
    takes_str = False  # converts a str argument for char * (ctypes, cffi: bytes only)

    def __init__(self, artifacts: build.Artifacts):
        self._artifacts = artifacts
        self._libraries: dict[str, Any] = {}
        self._struct_types: dict[StructSpec, Any] = {}

    def bind(self, case: Case) -> Binding:
        if case.str_arg and not self.takes_str:
            raise Unsupported("takes bytes, not str, for char *")
        try:
            fn = self._function(case)
            args = tuple(self._struct(t, v) if isinstance(t, StructSpec) else v
                         for t, v in zip(case.argtypes, case.args))
            result = fn(*args)
        except Unsupported:
            raise
        except Exception as e:  # a peer under development must not stop the run
            raise Unsupported(f"raised {type(e).__name__}: {e}") from e
        expected = case.expected
        if result != expected:
            raise Unsupported(f"WRONG RESULT {result!r}, expected {expected!r}: not measured")
        return Binding(fn, args)

    def _library(self, case: Case):
        """The case's library opened by this peer, opened once."""
        if case.library not in self._libraries:
            if case.library == TARGETS:
                if self._artifacts.targets is None:
                    raise Unsupported("the targets library was not built")
                path = str(self._artifacts.targets)
            else:
                path = case.library
            self._libraries[case.library] = self._open(path)
        return self._libraries[case.library]

    def _struct_type(self, spec: StructSpec):
        """This peer's type for a struct, made once."""
        if spec not in self._struct_types:
            self._struct_types[spec] = self._make_struct_type(spec)
        return self._struct_types[spec]

    # -- what subclasses provide --
    def _open(self, path: str):
        raise NotImplementedError

    def _function(self, case: Case) -> Callable:
        raise NotImplementedError

    def _make_struct_type(self, spec: StructSpec):
        raise NotImplementedError

    def _struct(self, spec: StructSpec, values) -> Any:
        """An argument of struct type spec holding values."""
        return self._struct_type(spec)(*values)


class FastffiPeer(Peer):
    """fastffi, one peer per tier, functions made with ``lib.function(...)``."""

    takes_str = True

    def __init__(self, artifacts, fastffi, tier: str):
        super().__init__(artifacts)
        self.name = f"fastffi {tier}"
        self._fastffi, self._tier = fastffi, tier

    def _open(self, path):
        return self._fastffi.dlopen(path)

    def _function(self, case):
        restype, *argtypes = (self._type(t) for t in (case.restype, *case.argtypes))
        try:
            return self._library(case).function(case.symbol, restype, argtypes, tier=self._tier)
        except self._fastffi.FFIError as e:  # this tier refuses the signature
            raise Unsupported(f"refused: {e}") from e

    def _type(self, t):
        return self._struct_type(t) if isinstance(t, StructSpec) else t

    def _make_struct_type(self, spec):
        return self._fastffi.struct(spec.name, list(spec.fields))

    def _struct(self, spec, values):
        return self._struct_type(spec)(**{name: v for (name, _), v in zip(spec.fields, values)})


_CTYPES = {
    "void": None, "i8": ctypes.c_int8, "i16": ctypes.c_int16, "i32": ctypes.c_int32,
    "i64": ctypes.c_int64, "u8": ctypes.c_uint8, "u16": ctypes.c_uint16,
    "u32": ctypes.c_uint32, "u64": ctypes.c_uint64, "f32": ctypes.c_float,
    "f64": ctypes.c_double, "pointer": ctypes.c_void_p, "string": ctypes.c_char_p,
}


class CtypesPeer(Peer):
    """ctypes, through CDLL (releases the GIL) or PyDLL (holds it)."""

    def __init__(self, artifacts, loader: type[ctypes.CDLL]):
        super().__init__(artifacts)
        self.name = f"ctypes {loader.__name__}"
        self._loader = loader

    def _open(self, path):
        return self._loader(path)

    def _function(self, case):
        fn = self._library(case)[case.symbol]  # a new function object, not the shared attribute
        fn.restype = self._type(case.restype)
        fn.argtypes = [self._type(t) for t in case.argtypes]
        return fn

    def _type(self, t):
        return self._struct_type(t) if isinstance(t, StructSpec) else _CTYPES[t]

    def _make_struct_type(self, spec):
        fields = [(name, _CTYPES[t]) for name, t in spec.fields]
        return type(spec.name, (ctypes.Structure,), {"_fields_": fields})


class CffiPeer(Peer):
    """Shared by both cffi modes: functions are attributes of the cffi lib."""

    ffi: Any

    def __init__(self, artifacts):
        super().__init__(artifacts)
        self._owners: list = []

    def _function(self, case):
        return getattr(self._library(case), case.symbol)

    def _struct(self, spec, values):
        owner = self.ffi.new(f"struct {spec.name} *", values)
        self._owners.append(owner)  # [0] does not keep the memory alive
        return owner[0]


class CffiAbiPeer(CffiPeer):
    """cffi ABI mode: ``ffi.dlopen``, calls through libffi."""

    name = "cffi ABI"

    def __init__(self, artifacts):
        super().__init__(artifacts)
        try:
            import cffi
        except ImportError as e:
            raise Unavailable(f"cffi is not installed ({e})") from e
        self.ffi = cffi.FFI()
        self.ffi.cdef(c_declarations())

    def _open(self, path):
        return self.ffi.dlopen(path)


class CffiApiPeer(CffiPeer):
    """cffi API mode: a compiled module calling the targets directly."""

    name = "cffi API"

    def __init__(self, artifacts):
        super().__init__(artifacts)
        if artifacts.cffi_api is None:
            raise Unavailable("the cffi API module was not built")
        module = build.import_extension(build.CFFI_MODULE, artifacts.cffi_api)
        self.ffi, self._lib = module.ffi, module.lib

    def _open(self, path):
        return self._lib  # linked to the targets and libc at build time


class HandwrittenPeer(Peer):
    """The hand-written extension: the practical floor."""

    name = "hand-written"
    takes_str = True

    def __init__(self, artifacts):
        super().__init__(artifacts)
        if artifacts.handwritten is None or artifacts.targets is None:
            raise Unavailable("the hand-written extension was not built")
        module = build.import_extension(build.HANDWRITTEN_MODULE, artifacts.handwritten)
        self._functions = module.load(str(artifacts.targets))

    def _function(self, case):
        return self._functions[case.symbol]

    def _struct(self, spec, values):
        return spec.pack(values)  # it takes a struct as its bytes


def _factories(artifacts, with_fastffi: bool) -> Iterator[tuple[str, Callable[[], Peer]]]:
    """(name, factory) for every peer, in table order."""
    if with_fastffi:
        yield from _fastffi_factories(artifacts)
    yield "ctypes CDLL", partial(CtypesPeer, artifacts, ctypes.CDLL)
    yield "ctypes PyDLL", partial(CtypesPeer, artifacts, ctypes.PyDLL)
    yield "cffi ABI", partial(CffiAbiPeer, artifacts)
    yield "cffi API", partial(CffiApiPeer, artifacts)
    yield "hand-written", partial(HandwrittenPeer, artifacts)


def _fastffi_factories(artifacts) -> Iterator[tuple[str, Callable[[], Peer]]]:
    """One fastffi peer per tier it offers here."""
    try:
        import fastffi
        tiers = fastffi.available_tiers()
    except Exception as e:  # not built yet, or too old to list its tiers
        yield "fastffi", partial(_unavailable, f"{type(e).__name__}: {e}")
        return
    for tier in tiers:
        yield f"fastffi {tier}", partial(FastffiPeer, artifacts, fastffi, tier)


def _unavailable(reason: str):
    raise Unavailable(reason)


def discover(artifacts: build.Artifacts,
             names: Collection[str] | None = None) -> tuple[list[Peer], list[str]]:
    """The peers that can run here (all, or those named), and a note for each that cannot.

    fastffi is imported only when a fastffi peer may be wanted: the callgrind
    worker of another peer must not pay for the import.
    """
    with_fastffi = names is None or any(n.startswith("fastffi") for n in names)
    peers, notes = [], []
    for name, factory in _factories(artifacts, with_fastffi):
        if names is not None and name not in names:
            continue
        try:
            peers.append(factory())
        except Unavailable as e:
            notes.append(f"{name}: skipped: {e}")
        except Exception as e:  # a broken peer must not stop the others
            notes.append(f"{name}: skipped: {type(e).__name__}: {e}")
    return peers, notes
