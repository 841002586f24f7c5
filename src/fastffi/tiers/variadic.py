"""Variadic functions: the per-type-tuple Functions a declaration with ``...``
dispatches to.

A variadic declaration is a Function for its fixed arguments whose calls
type each extra argument (``_core/runtime/variadic.c`` for the common types,
:func:`infer` here for all of them) and call the Function made for the fixed
arguments plus those types, on the fastest tier that takes it.
``fn.variadic(*types)`` makes that Function from explicit types.

Types are the promoted ones of C's default argument promotions (C11
6.5.2.2p6-7), the only types a callee's ``va_arg`` may read:

* explicit: ``f32`` is passed as ``f64``; ``bool``, ``i8``, ``i16``, ``u8``,
  ``u16`` are converted (and range checked) as declared and passed widened as
  an ``int``; a struct by value is passed as declared;
* inferred from a Python value: bool -> int, int -> ``i64`` (``u64`` above
  2**63-1; OverflowError beyond), float -> ``f64``, str/bytes -> ``const char
  *``, None, buffers, fastffi objects, Functions and Callbacks -> ``void *``; numpy
  scalars by their dtype, promoted.  An int is passed as a 64-bit integer
  whatever the format reads: on the ABIs inference runs on, every integer
  vararg fills one 8-byte little-endian slot or register, so ``va_arg``
  reading ``int``, ``long`` or ``size_t`` finds what was passed.  Elsewhere
  inference is refused (:func:`inference_refusal`)."""
from __future__ import annotations

import sys
from typing import Any, cast

from .. import _core
from ..cdecl.spelling import resolve_type
from ..errors import FFIError, SignatureError
from ..model.scalars import Scalar, scalar
from ..model.signature import Signature

_BOOL, _F64, _I32, _I64, _U32, _U64 = (scalar(n) for n in ("bool", "f64", "i32", "i64", "u32", "u64"))
_F32 = scalar("f32")
_CONST_CHAR_P = resolve_type("const char *")
_VOID_P = resolve_type("void *")
_I64_MAX = (1 << 63) - 1
_U64_MAX = (1 << 64) - 1

#: Each cache (per declaration) holds at most this many Functions.
CACHE_LIMIT = 256


def inference_refusal() -> str | None:
    """Why an int cannot be passed as a 64-bit integer for any integer
    ``va_arg`` here, or None."""
    if _core.POINTER_SIZE != 8 or sys.byteorder != "little":
        return ("variadic arguments typed by value need 8-byte little-endian argument slots "
                f"(this platform: {8 * _core.POINTER_SIZE}-bit {sys.byteorder}-endian): use fn.variadic(types)")
    return None


#: The platform's answer, asked once.
_INFERENCE_REFUSAL = inference_refusal()


def promote(t):
    """The type an explicit variadic type is passed as (see the module)."""
    if t.__class__ is Scalar and t.kind == _F32.kind and t.pointee is None:
        return _F64
    return t


def _numpy_type(name: str, v, where: str):
    dtype = getattr(v, "dtype", None)
    kind: Any = getattr(dtype, "kind", None)
    size: Any = getattr(dtype, "itemsize", None)
    if kind == "b":
        return _BOOL   # converted as a bool (numpy's too), passed widened as an int
    if (kind in "iu" and size < 4) or (kind == "i" and size == 4):
        return _I32
    if kind == "u" and size == 4:
        return _U32
    if kind == "i" and size == 8:
        return _I64
    if kind == "u" and size == 8:
        return _U64
    if kind == "f" and size <= 8:
        return _F64
    raise TypeError(f"{where}: cannot pass numpy.{type(v).__name__} as a variadic argument "
                    f"(numpy scalars of integer, bool and up to 64-bit float dtypes are)")


def infer(name: str, position: int, v):
    """The promoted type of the Python value ``v`` passed as argument
    ``position`` (1-based) in the variadic part of ``name``."""
    where = f"{name}() argument {position}"
    if v is None:
        return _VOID_P
    if isinstance(v, bool):
        return _BOOL   # as the C side types it: 0 or 1, passed widened as an int
    if isinstance(v, int):
        if -_I64_MAX - 1 <= v <= _I64_MAX:
            return _I64
        if 0 <= v <= _U64_MAX:
            return _U64
        raise OverflowError(f"{where}: {v} does not fit a 64-bit integer (the widest a variadic int is passed as)")
    if isinstance(v, float):
        return _F64
    if isinstance(v, (str, bytes)):
        return _CONST_CHAR_P
    module = type(v).__module__
    if module == "numpy" and hasattr(v, "dtype"):
        return _numpy_type(name, v, where)
    if isinstance(v, (_core.CData, _core.Function, _core.Callback)):
        return _VOID_P
    readonly = _buffer_readonly(v)
    if readonly is False:
        return _VOID_P
    if readonly:
        # An inferred pointer is a void *, which C may write through (sscanf's %s); the
        # declaration has no parameter to make const, so the caller names the type.
        raise TypeError(f"{where}: {type(v).__name__} is read-only and C may write through a variadic "
                        f"pointer; pass a writable buffer, or give the types, this one 'const void *': "
                        f"{name}.variadic(type, ...)")
    raise TypeError(f"{where}: cannot infer a C type for a variadic argument from {type(v).__name__} "
                    f"(int, float, str, bytes, None, a buffer or a fastffi object; or give the types: "
                    f"{name}.variadic(type, ...))")


def _buffer_readonly(v) -> bool | None:
    """Whether the buffer ``v`` exports is read-only; None if ``v`` exports none."""
    try:
        view = memoryview(v)
    except TypeError:
        return None
    with view:
        return view.readonly


class Variadic:
    """What a variadic declaration's calls dispatch through: makes and caches
    the Function for each tuple of variadic types."""

    __slots__ = ("create", "sig", "types", "_explicit", "_promoted")

    def __init__(self, create, sig: Signature, types=None):
        #: create(concrete Signature) -> Function, on the declaration's options.
        self.create = create
        self.sig = sig
        self.types = types
        self._explicit: dict = {}    # the types as given -> Function
        self._promoted: dict = {}    # promoted types -> Function

    def _function(self, promoted: tuple):
        fn = self._promoted.get(promoted)
        if fn is None:
            sig = self.sig
            fn = self.create(Signature(sig.name, sig.restype, sig.argtypes + promoted, sig.nfixed, sig.convention))
            if len(self._promoted) >= CACHE_LIMIT:
                self._promoted.clear()
            self._promoted[promoted] = fn
        return fn

    def specialise(self, types: tuple):
        """fn.variadic(*types)."""
        try:
            fn = self._explicit.get(types)
        except TypeError:   # an unhashable type specification: resolved below, and refused there
            fn = None
        if fn is None:
            resolved = []
            for i, t in enumerate(types):
                try:
                    resolved.append(promote(resolve_type(t, self.types, value_only=True)))
                except SignatureError as e:
                    raise SignatureError(f"{self.sig.name}.variadic() type {i + 1}: {e}") from None
            fn = self._function(tuple(resolved))
            if len(self._explicit) >= CACHE_LIMIT:
                self._explicit.clear()
            self._explicit[types] = fn
        return fn

    def dispatch(self, fn, extras: tuple):
        """The Function a call with these extra arguments runs (the C side
        asks when it cannot type them itself, or has not seen their types)."""
        reason = _INFERENCE_REFUSAL
        if reason is not None:
            raise FFIError(f"{self.sig.name}(): {reason}")
        n = cast(int, self.sig.nfixed)   # a declaration's: always set
        return self._function(tuple([infer(self.sig.name, n + 1 + i, v) for i, v in enumerate(extras)]))


def describe(sig: Signature) -> list[str]:
    """explain()'s lines for a variadic declaration."""
    return [f"variadic: {sig.nfixed} fixed argument{'s' if sig.nfixed != 1 else ''}; each call types the extra "
            "arguments by value (bool -> int, int -> i64/u64, float -> f64, str/bytes -> const char *, "
            "None/buffers/fastffi objects -> void *) and runs the Function fn.variadic(*types) makes for them; "
            "the tier above is that of the fixed arguments alone"]


__all__ = ["CACHE_LIMIT", "Variadic", "describe", "infer", "inference_refusal", "promote"]
