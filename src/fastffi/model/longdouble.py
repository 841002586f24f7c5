"""How a C ``long double`` result reaches Python.

``numpy.longdouble`` is the one common Python type that holds a long double
exactly (x87 80-bit extended on x86-64, IEEE binary128 on AArch64 Linux), so
results are numpy.longdouble whenever numpy can be imported, and a Python
float (rounded to double) otherwise.  numpy is imported once, on the first
long double result, never at ``import fastffi``: the C core stays free of it
and hands this box the value's bytes and its double approximation."""
from __future__ import annotations

_UNSET = object()
_longdouble = _UNSET     # numpy.longdouble, or None when numpy cannot be imported


def numpy_longdouble():
    """numpy.longdouble, or None without numpy (imported on first use)."""
    global _longdouble
    if _longdouble is _UNSET:
        try:
            import numpy
        except ImportError:
            _longdouble = None
        else:
            _longdouble = numpy.longdouble
    return _longdouble


def box(raw: bytes, approx: float):
    """The Python value of a long double whose bytes are ``raw``."""
    cls = numpy_longdouble()
    if cls is None:
        return approx
    import numpy
    return numpy.frombuffer(raw, cls)[0]


__all__ = ["box", "numpy_longdouble"]
