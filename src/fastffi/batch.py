"""Batched calls: the shared-buffer technique.

``fn.map(*columns, out=None, threads=1)`` calls ``fn`` once per row of its
argument columns in a native loop (``_core/batch.c``): columns already in
memory (numpy arrays -- strided ones too --, array.array, memoryview, fastffi
arrays) are read in place, results are written into ``out``.  Everything is
validated here, before the first call, so no Python code runs in the loop and a
mismatch raises with no call made.

The loop looks for signals between blocks of rows, also with the GIL
released: Ctrl-C (or any signal handler that raises) stops it, and ``map()``
raises the handler's exception -- ``KeyboardInterrupt`` -- with the rows
before the interruption called and their results in ``out``.

``fn.shared()`` is sbffi's shared-buffer call object: the arguments live in a
buffer laid out as a C struct of the argument types, both sides read it, and
``sb()`` calls with whatever is in it."""
from __future__ import annotations

import struct
import sys
import threading
from typing import Any

from . import _core
from .model.aggregates import Array, array_class
from .model.layout import size_align
from .model.longdouble import numpy_longdouble
from .model.scalars import SCALARS, VOID, Scalar, scalar
from .model.signature import Signature, type_name
from .tiers import jit as tier_jit

#: Buffer item formats accepted for each argument type (native byte order).
COLUMN_FORMATS = {
    "i8": "b", "u8": "B", "i16": "h", "u16": "H", "i32": "i", "u32": "I",
    "i64": "ql", "u64": "QL", "f32": "f", "f64": "d", "bool": "?",
    "pointer": "QLP", "string": "QLP",
    # numpy complex64/complex128/longdouble columns (PEP 3118 formats)
    "c64": ("Zf",), "c128": ("Zd",), "longdouble": ("g",),
}
_NATIVE_PREFIXES = ("@", "=", "<" if sys.byteorder == "little" else ">")
_OUT_FORMATS = {name: fmts[0] for name, fmts in COLUMN_FORMATS.items()}
_get_ident = threading.get_ident
_BOOL = SCALARS["bool"]
_POINTER = SCALARS["pointer"].kind
_STRING = SCALARS["string"].kind
_TO_BOOL = bytes([0] + [1] * 255)


def _types_of(fn) -> tuple[Any, list]:
    def resolve(t):
        return t if isinstance(t, type) else (VOID if t == "void" else scalar(t))
    return resolve(fn.restype), [resolve(t) for t in fn.argtypes]


def _format_char(fmt: str) -> str | None:
    """The item letter of a 1-item native format, or None ('<i' -> 'i')."""
    if fmt[:1] in _NATIVE_PREFIXES:
        fmt = fmt[1:]
    elif fmt[:1] in "<>!":
        return None
    # 'Zf'/'Zd': PEP 3118's complex prefix (numpy complex64/complex128 columns)
    return fmt if len(fmt) == 1 or (len(fmt) == 2 and fmt[0] == "Z") else None


def _first(values: tuple[int, ...] | None) -> int:
    """shape[0] or strides[0] of a memoryview of at least one dimension (typeshed allows None,
    which only a 0-D view's would be)."""
    if values is None:
        raise TypeError("a 0-dimensional buffer is not a column")
    return values[0]


class _Column:
    __slots__ = ("address", "stride", "rows", "keep")

    def __init__(self, address: int, stride: int, rows: int | None, keep):
        self.address, self.stride, self.rows, self.keep = address, stride, rows, keep


def _wide_value(t, col) -> bool:
    """A single c64/c128 (complex) or longdouble (numpy.longdouble) value to broadcast."""
    if t.is_complex:
        return isinstance(col, complex)
    cls = numpy_longdouble()
    return cls is not None and isinstance(col, cls)


def _string_copy(col: str, where: str) -> bytearray:
    """One str for a ``char *`` column: a private NUL-terminated copy every row is passed
    (map sees no const-ness, and C writing through a str's own buffer would change the str),
    held by the broadcast box.  bytes are a buffer, so a column of 'B' items: never broadcast."""
    data = col.encode("utf-8", "surrogateescape")
    if b"\0" in data:
        raise ValueError(f"{where}: embedded null character")
    return bytearray(data)   # CPython keeps a NUL after a bytearray's data


def _column(fn, i: int, t, col) -> _Column:
    where = f"{fn.__name__}.map() argument {i + 1}"
    if isinstance(t, Scalar) and t.kind == _STRING and isinstance(col, str):
        col = _string_copy(col, where)
        string_value = True
    else:
        string_value = False
    if isinstance(t, Scalar) and (col is None or isinstance(col, (int, float)) or string_value
                                  or (t.is_wide and _wide_value(t, col))
                                  or (t.kind == _POINTER and isinstance(col, _core.Callback))):
        # Broadcast: one value for every row, range-checked like an argument
        # (a Callback: its address, the box keeping it alive).
        box = _core.cdata_alloc(array_class(t), t.size, t.format, t.size)
        _core.write_scalar(box, 0, t.kind, col, where)
        return _Column(box._address_, 0, None, box)
    if not isinstance(t, Scalar) and isinstance(col, Array) and col._elem_ is t:
        return _Column(col._address_, t._size_, len(col), col)
    try:
        mv = memoryview(col)
    except TypeError:
        raise TypeError(f"{where}: expected a column (a 1-D buffer) or a single value of "
                        f"{type_name(t)}, got {type(col).__name__}") from None
    if mv.ndim != 1:
        raise ValueError(f"{where}: a column must be 1-dimensional, got {mv.ndim} dimensions")
    if isinstance(t, Scalar):
        letter = _format_char(mv.format)
        if letter is None or letter not in COLUMN_FORMATS[t.name] or mv.itemsize != t.size:
            expected = " or ".join(repr(c) for c in COLUMN_FORMATS[t.name])
            raise TypeError(f"{where}: column format {mv.format!r} does not match {t.name} (expected {expected})")
    elif mv.itemsize != t._size_:
        raise TypeError(f"{where}: column items are {mv.itemsize} bytes, {t.__name__} is {t._size_} "
                        f"(an array of structs with exactly the C layout is needed)")
    address = _core.address_of(mv) if mv.nbytes else 0
    if t is _BOOL and mv.nbytes and not _core.bool_column_is_0_1(address, _first(mv.strides), _first(mv.shape)):
        # A byte other than 0/1 (a raw '?' buffer holds anything; numpy bool
        # arrays only 0/1) reaches C as an invalid _Bool in every loop: take a
        # normalised copy, nonzero -> 1, as numpy reads such a byte and as a
        # call per row converts the row's bool.
        mv = memoryview(mv.tobytes().translate(_TO_BOOL))
        address = _core.address_of(mv)
    return _Column(address, _first(mv.strides), _first(mv.shape), mv)


def _numpy():
    try:
        import numpy
    except ImportError:
        raise ImportError("fn.map() without out= allocates a numpy array: install numpy, or pass out=") from None
    return numpy


def numpy_dtype(t):
    """The numpy dtype with exactly the C layout of a scalar or struct type."""
    np = _numpy()
    if isinstance(t, Scalar):
        if t.is_complex:   # numpy's dtype() reads no PEP 3118 'Z' prefix
            return np.dtype(np.complex64 if t.name == "c64" else np.complex128)
        return np.dtype(t.format)   # a buffer-protocol format numpy reads natively
    lay = t._layout_
    names, formats, offsets = [], [], []
    for f in lay.fields:
        base = numpy_dtype(f.type)
        names.append(f.name)
        formats.append((base, (f.count,)) if f.count is not None else base)
        offsets.append(f.offset)
    # numpy has no unions, but overlapping fields at explicit offsets serve.
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": lay.size})


def _output(fn, rt, out, rows: int):
    where = f"{fn.__name__}.map() out"
    if rt is VOID:
        if out is not None:
            raise TypeError(f"{where}: {fn.__name__} returns void; out must be None")
        return None, 0, 0, None
    if out is None:
        out = _numpy().empty(rows, dtype=numpy_dtype(rt))
    mv = memoryview(out)
    if mv.readonly:
        raise TypeError(f"{where}: the output buffer is read-only")
    if mv.ndim != 1 or _first(mv.shape) != rows:
        raise ValueError(f"{where}: expected a 1-D buffer of {rows} items, got shape {mv.shape}")
    if isinstance(rt, Scalar):
        letter = _format_char(mv.format)
        if letter is None or letter not in COLUMN_FORMATS[rt.name] or mv.itemsize != rt.size:
            raise TypeError(f"{where}: format {mv.format!r} does not match {rt.name} "
                            f"(expected {_OUT_FORMATS[rt.name]!r})")
    elif mv.itemsize != rt._size_:
        raise TypeError(f"{where}: items are {mv.itemsize} bytes, {rt.__name__} is {rt._size_}")
    return out, (_core.address_of(mv) if rows else 0), _first(mv.strides), mv


def _loop(fn):
    """The emitted loop for fn's register shape, when the JIT was allowed for
    fn and the shape qualifies; None runs the plan (or libffi) loop."""
    if not fn._jit_allowed_ or fn.tier == "libffi":
        return None
    rt, args = _types_of(fn)
    sig = Signature(fn.__name__, rt, tuple(args), fn._nfixed_)   # a variadic target's loop sets %al
    if tier_jit.loop_refusal(sig) is not None:
        return None
    return tier_jit.loop_for(sig)


#: the types that map() does not take, and why.
_NO_COLUMNS = {"i128": "numpy has no 128-bit integer dtype", "u128": "numpy has no 128-bit integer dtype",
               "wstring": "a wchar_t * column would need a converted copy per row"}


def _refuse_unmappable(fn, rt, args) -> None:
    for i, t in enumerate((rt, *args)):
        why = _NO_COLUMNS.get(t.name) if isinstance(t, Scalar) else None
        if why:
            where = "its result" if i == 0 else f"argument {i}"
            raise TypeError(f"{fn.__name__}.map(): {where} is {t.name} ({why}); call {fn.__name__} per row")


def map_rows(fn, *columns, out=None, threads: int = 1):
    """Call ``fn`` once per row; see :mod:`fastffi.batch`.  Returns ``out`` (a new
    numpy array when None), or None for a void function."""
    rt, args = _types_of(fn)
    _refuse_unmappable(fn, rt, args)
    if len(columns) != len(args):
        raise TypeError(f"{fn.__name__}.map() takes {len(args)} column{'s' if len(args) != 1 else ''} "
                        f"({len(columns)} given)")
    if not isinstance(threads, int) or isinstance(threads, bool) or not 1 <= threads <= 64:
        raise ValueError(f"{fn.__name__}.map(): threads must be an int from 1 to 64, got {threads!r}")
    cols = [_column(fn, i, t, c) for i, (t, c) in enumerate(zip(args, columns))]
    lengths = {c.rows for c in cols if c.rows is not None}
    if len(lengths) > 1:
        raise ValueError(f"{fn.__name__}.map(): columns have different lengths {sorted(lengths)}")
    if not lengths:
        raise ValueError(f"{fn.__name__}.map(): at least one argument must be a column (values alone "
                         f"give no row count)" if args else f"{fn.__name__}.map() needs a column to count rows")
    rows = lengths.pop()
    out, out_address, out_stride, keep_out = _output(fn, rt, out, rows)
    if rows:
        # Only the main thread runs signal handlers: elsewhere the loop need
        # not stop to look for them.
        # A broadcast Callback's exception raised on this thread during the
        # loop is map()'s, as a call's (_core/callbacks/scope.c).
        callbacks = tuple(c for c in columns if isinstance(c, _core.Callback))
        _core.run_batch(fn, tuple(c.address for c in cols), tuple(c.stride for c in cols), out_address,
                        out_stride, rows, threads, _loop(fn), _get_ident() == threading.main_thread().ident,
                        callbacks)
    del keep_out, cols  # buffers stayed exported for the whole loop
    return out


class SharedCall:
    """A call whose arguments live in a buffer both sides read (sbffi's shared
    buffer): ``args`` is a writable memoryview of the arguments laid out as a C
    struct of their types in declaration order (natural alignment), ``format``
    the matching ``struct`` format, ``result`` a memoryview of the return slot.
    ``sb()`` calls with whatever is in ``args``.

    It pays when the caller already holds packed arguments (they are written
    into ``args`` with one ``struct.pack_into`` or a buffer copy); for
    arguments held as Python objects a plain call is as fast or faster.  Not
    thread-safe: use one per thread.

    A Callback whose address is written into ``args`` is named in
    ``callbacks`` (a tuple): the SharedCall keeps it alive, and an exception it
    raises on this thread while C runs it is raised from ``sb()``, as from a
    call that was passed it."""

    def __init__(self, fn):
        self._fn = fn
        rt, args = _types_of(fn)
        offsets, parts, offset, align = [], [], 0, 1
        for t in args:
            size, a = size_align(t)
            pad = -offset % a
            # '=' mode (no implicit alignment) has no 'P': pointers are 'Q' there.
            # c64/c128/longdouble have no struct-module code: their bytes
            scalar = isinstance(t, Scalar) and not t.is_wide
            parts.append("x" * pad + (t.format.replace("P", "Q") if scalar else f"{size}s"))
            offset += pad
            offsets.append(offset)
            offset += size
            align = max(align, a)
        total = offset + (-offset % align)
        parts.append("x" * (total - offset))
        #: ``struct`` format of ``args`` (explicit padding, native byte order)
        self.format = "=" + "".join(parts)
        #: byte offset of each argument in ``args``
        self.offsets = tuple(offsets)
        self._args = _core.cdata_alloc(array_class(SCALARS["u8"]), max(total, 1), "B", 1)
        rsize = 0 if rt is VOID else (rt.size if isinstance(rt, Scalar) else rt._size_)
        self._result = _core.cdata_alloc(array_class(SCALARS["u8"]), max(rsize, 8), "B", 1)
        self.args = memoryview(self._args)[:total]
        self.result = memoryview(self._result)[:rsize]
        base = self._args._address_
        self._columns = tuple(base + o for o in offsets)
        self._strides = (0,) * len(offsets)
        self._loop = _loop(fn)
        self._callbacks = ()
        #: where the _Bool arguments are: ``args`` is raw bytes the caller may fill with
        #: any value, and C's _Bool holds only 0 or 1 (psABI 3.1.2, AAPCS64 10.1.1)
        self._bools = tuple(o for o, t in zip(offsets, args) if t is _BOOL)
        assert struct.calcsize(self.format) == total

    @property
    def callbacks(self) -> tuple:
        """The Callbacks ``args`` holds the addresses of (see the class)."""
        return self._callbacks

    @callbacks.setter
    def callbacks(self, value) -> None:
        value = tuple(value)
        for i, cb in enumerate(value):
            if not isinstance(cb, _core.Callback):
                raise TypeError(f"{self._fn.__name__}.shared().callbacks: item {i}: expected Callback, "
                                f"got {type(cb).__name__}")
        if len(value) > len(self.offsets):
            raise ValueError(f"{self._fn.__name__}.shared().callbacks: {len(value)} callbacks for "
                             f"{len(self.offsets)} arguments")
        self._callbacks = value

    def __call__(self):
        for o in self._bools:   # nonzero is passed as 1, as map() and a plain call do
            if self.args[o] > 1:
                self.args[o] = 1
        _core.run_batch(self._fn, self._columns, self._strides, self._result._address_, 0, 1, 1, self._loop,
                        False, self._callbacks)

    def __repr__(self) -> str:
        return f"<fastffi.SharedCall of {self._fn.__name__} format={self.format!r}>"


__all__ = ["map_rows", "SharedCall", "numpy_dtype", "COLUMN_FORMATS"]
