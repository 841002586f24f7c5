"""fastffi: the fastest safe way to call C from Python.

Load a shared library, declare a function's signature at run time, call it::

    import fastffi
    libz = fastffi.dlopen("libz.so.1")
    crc32 = libz.function("unsigned long crc32(unsigned long, const unsigned char *, unsigned int)")
    crc32(0, b"hello", 5)

Each function runs on the fastest tier the machine safely allows, chosen once
when it is created: ``jit``, ``plan`` or ``libffi`` (``fn.tier``, ``fn.explain()``).
"""
from __future__ import annotations

from . import _core
from .callbacks import Callback, callback
from .errors import (CallbackClosedError, FFIError, HeaderError, LibraryClosedError, LibraryError, SignatureError,
                     SymbolError)
from .header import Header, cdef, include
from .library import (RTLD_GLOBAL, RTLD_LAZY, RTLD_LOCAL, RTLD_NODELETE, RTLD_NOLOAD, RTLD_NOW, Library, dlopen,
                      function)
from .memory import (address_of, gc, get_errno, read, reader, set_errno, to_bytes, to_string, view, write,
                     write_bytes)
from .model.aggregates import Array, Box, CStruct, CUnion
from .model.typed_pointers import Pointer
from .tiers.selection import available_tiers
from .types import alignof, array, define, new, offsetof, sizeof, struct, undefine, union
from . import batch as _batch
from .model import longdouble as _longdouble

# The C core never imports the package: it gets the exceptions it raises and
# fn.map()/fn.shared()'s Python side here, before any function can be made.
_core._init(FFIError=FFIError, LibraryClosedError=LibraryClosedError, LibraryError=LibraryError,
            SymbolError=SymbolError, SignatureError=SignatureError,
            CallbackClosedError=CallbackClosedError, longdouble=_longdouble.box, map=_batch.map_rows,
            shared=_batch.SharedCall)


def jit_supported() -> bool:
    """Whether this process can have W^X executable memory for the JIT tier.

    Probed once per process and cached: a read-write page gets one return
    instruction, the instruction cache is flushed and the page is made
    read+execute -- it is never executed.  Set ``FASTFFI_TIER=plan`` (or
    ``libffi``) where even asking could be fatal: then fastffi never probes."""
    return _core.jit_supported()


Function = _core.Function
#: What a function declared to return a non-const ``char *`` returns: a str
#: with ``.address``, the pointer C returned (``free(s.address)``).
CString = _core.CString
#: What a :func:`reader` function is bound to: ``reader("i32").__self__.type == "i32"``.
Reader = _core.Reader
from .version import __version__  # noqa: E402
LIBFFI_VERSION: str = _core.LIBFFI_VERSION

__all__ = [
    "dlopen", "function", "Library", "cdef", "include", "Header", "HeaderError", "Function", "CString", "Reader",
    "callback", "Callback",
    "struct", "union", "define", "undefine", "sizeof", "alignof", "offsetof", "CStruct", "CUnion",
    "new", "array", "Array", "Box", "Pointer",
    "address_of", "to_bytes", "view", "to_string", "read", "reader", "write", "write_bytes", "get_errno", "set_errno",
    "gc",
    "available_tiers", "jit_supported",
    "FFIError", "LibraryError", "SymbolError", "SignatureError", "LibraryClosedError",
    "CallbackClosedError",
    "RTLD_NOW", "RTLD_LAZY", "RTLD_LOCAL", "RTLD_GLOBAL", "RTLD_NODELETE", "RTLD_NOLOAD",
    "LIBFFI_VERSION", "__version__",
]
