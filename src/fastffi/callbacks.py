"""``fastffi.callback``: Python functions C can call.

    cmp = fastffi.callback("int cmp(const void *a, const void *b)",
                           lambda a, b: fastffi.read(a, "int") - fastffi.read(b, "int"))
    libc.qsort(buf, n, 4, cmp)

Arguments reach ``func`` converted like a call's results; its return value is
converted like a call's argument, with the same checks.  An exception never
crosses into C: C gets ``error`` (or what ``onerror`` returns), and the
exception goes to ``onerror``, to the fastffi call that was passed the
callback (raised from it once C returns), or to :func:`sys.unraisablehook`.
docs/callbacks.md has the whole story: threads, lifetime, mechanisms."""
from __future__ import annotations

import functools
import re

from . import _core
from .cdecl.spelling import parse_function_type
from .model.pointers import FunctionType, function_key
from .model.signature import Signature
from .tiers import callback as _mechanisms

Callback = _core.Callback

def _signature(signature) -> Signature:
    if isinstance(signature, tuple) and len(signature) == 2 and signature[0] is None:
        signature = ("void", signature[1])
    if isinstance(signature, (str, tuple)) or isinstance(getattr(signature, "pointee", None), FunctionType):
        # cdecl: function types, pointers to them, declarations, typedef names.
        return parse_function_type(signature)
    raise TypeError(f"a callback signature is a C function type or declaration, or (restype, argtypes); "
                    f"got {type(signature).__name__}")


# "int (*cmp)(int a)" or "int (*)(int a)": the declaration of a function of that
# type, whose parameter names inspect.signature(cb) shows.
_POINTER_DECLARATION = re.compile(r"^(?P<ret>.*?)\(\s*\*\s*(?P<name>\w*)\s*\)\s*(?P<params>\(.*\))\s*;?\s*$", re.S)


@functools.lru_cache(maxsize=1024)   # a pure function of the text; creation asks at every callback
def _declaration(text: str) -> str:
    m = _POINTER_DECLARATION.match(text)
    if m is None:
        return text
    return f"{m.group('ret').rstrip()} {m.group('name') or 'callback'}{m.group('params')}"


def callback(signature, func=None, *, error=0, onerror=None, tier: str = "auto"):
    """A :class:`Callback` C can call as ``signature``, running ``func``.

    ``signature`` is a C function type or declaration --
    ``"int(const void *, const void *)"``, ``"int (*)(const void *, const void *)"``,
    ``"int cmp(const void *a, const void *b)"`` -- or ``(restype, argtypes)``
    in the names ``lib.function`` takes.  Without ``func``, a decorator.

    ``error`` is what C gets when ``func`` raises (or its result cannot be
    converted), checked and converted now; ignored for ``void``, None or an
    instance for a struct result (0 and None: zero-filled).  ``onerror(exc_type,
    exc, traceback)``, when given, sees the exception first; a non-None value
    it returns is the result.  ``tier`` asks for a mechanism (``"jit"``,
    ``"plan"``, ``"libffi"``) as for functions; ``FASTFFI_TIER`` is a ceiling.

    Keep the Callback for as long as C may call it; ``close()`` (or dropping
    the last reference) retires its address: later calls through it report
    :class:`~fastffi.CallbackClosedError` and return ``error``."""
    sig = _signature(signature)
    declaration = _declaration(signature) if isinstance(signature, str) else None

    def make(f):
        return _mechanisms.create(sig, f, error=error, onerror=onerror, tier=tier, key_of=function_key,
                                  declaration=declaration)

    if func is None:
        return make
    return make(func)


__all__ = ["Callback", "callback"]
