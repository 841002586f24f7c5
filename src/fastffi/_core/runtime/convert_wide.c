/* The wide floating kinds: c64 (`float _Complex`), c128 (`double
 * _Complex`) and longdouble.  They do not fit the 8-byte Slot the other kinds
 * convert into, so they have their own converter and boxer over a Wide, used
 * by the paths that take them (the libffi tier, fields, read/write, callbacks).
 *
 * Rules (docs/types.md):
 *  - c64/c128 take complex, float and int (imaginary part 0), and anything
 *    with __complex__/__float__/__index__; c64 rounds each part like f32 and
 *    refuses a finite part that rounds to infinity (OverflowError, as f32).
 *  - longdouble takes float (exactly: every double is a long double), int
 *    exactly when |v| < 2**64 (every such int is representable in both the
 *    x87 80-bit and the binary128 formats: 64 and 113 significand bits),
 *    OverflowError beyond; numpy.longdouble exactly, from its buffer; other
 *    objects through __float__/__index__ (a double).
 *  - results: complex; a longdouble through the package's box (runtime/init.c:
 *    numpy.longdouble when numpy imports, else float), so the core never
 *    imports numpy. */
#include "runtime/convert.h"

#include <math.h>

PyObject *longdouble_box;   /* set by _core._init (runtime/init.c) */

static int has_complex_method(PyObject *o)
{
    PyNumberMethods *nb = Py_TYPE(o)->tp_as_number;
    if (nb != NULL && (nb->nb_float != NULL || nb->nb_index != NULL))
        return 1;
    return PyObject_HasAttrString((PyObject *)Py_TYPE(o), "__complex__");
}

static int convert_complex(int kind, PyObject *o, Wide *out, ErrCtx ctx)
{
    Py_complex c;
    if (PyComplex_Check(o))
        c = PyComplex_AsCComplex(o);
    else if (PyFloat_Check(o)) {
        c.real = PyFloat_AS_DOUBLE(o);
        c.imag = 0.0;
    }
    else if (PyLong_Check(o)) {
        c.imag = 0.0;
        c.real = PyLong_AsDouble(o);
        if (c.real == -1.0 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError))
                return -1;
            PyErr_Clear();
            return raise_overflow(kind_name(kind), o, ctx);
        }
    }
    else if (!PyUnicode_Check(o) && !PyBytes_Check(o) && has_complex_method(o)) {
        c = PyComplex_AsCComplex(o);
        if (c.real == -1.0 && PyErr_Occurred())
            return -1;
    }
    else
        return raise_type_error(kind_name(kind), o, ctx);
    memset(out, 0, sizeof(*out));
    if (kind == KIND_C128) {
        out->d[0] = c.real;
        out->d[1] = c.imag;
        return 0;
    }
    float re = (float)c.real, im = (float)c.imag;
    /* As f32 (struct.pack("<f")): a finite part rounding to infinity does not fit. */
    if ((isinf(re) && !isinf(c.real)) || (isinf(im) && !isinf(c.imag))) {
        PyObject *value = PyComplex_FromDoubles(c.real, c.imag);
        if (value == NULL)
            return -1;
        raise_overflow(kind_name(kind), value, ctx);
        Py_DECREF(value);
        return -1;
    }
    out->f[0] = re;
    out->f[1] = im;
    return 0;
}

/* numpy's scalar types are static types: recognised by name, so the core
 * need not import numpy.  Its buffer holds the C long double itself. */
static int is_numpy_longdouble(PyObject *o)
{
    PyTypeObject *t = Py_TYPE(o);
    return !(t->tp_flags & Py_TPFLAGS_HEAPTYPE) && strcmp(t->tp_name, "numpy.longdouble") == 0;
}

static int convert_longdouble(PyObject *o, Wide *out, ErrCtx ctx)
{
    memset(out, 0, sizeof(*out));
    if (PyFloat_Check(o)) {
        out->ld = (long double)PyFloat_AS_DOUBLE(o);
        return 0;
    }
    if (PyLong_Check(o)) {
        int overflow = 0;
        long long s = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (s == -1 && PyErr_Occurred())
            return -1;
        if (overflow == 0) {
            out->ld = (long double)s;
            return 0;
        }
        if (overflow > 0) {
            unsigned long long u = PyLong_AsUnsignedLongLong(o);
            if (!(u == (unsigned long long)-1 && PyErr_Occurred())) {
                out->ld = (long double)u;
                return 0;
            }
            PyErr_Clear();
        }
        else {
            /* -(2**64 - 1) .. -2**63 - 1: the magnitude fits u64. */
            PyObject *neg = PyNumber_Negative(o);
            if (neg == NULL)
                return -1;
            unsigned long long u = PyLong_AsUnsignedLongLong(neg);
            Py_DECREF(neg);
            if (!(u == (unsigned long long)-1 && PyErr_Occurred())) {
                out->ld = -(long double)u;
                return 0;
            }
            PyErr_Clear();
        }
        return raise_overflow(kind_name(KIND_LONGDOUBLE), o, ctx);
    }
    if (is_numpy_longdouble(o)) {
        Py_buffer view;
        if (PyObject_GetBuffer(o, &view, PyBUF_SIMPLE) < 0)
            return -1;
        int ok = view.len == (Py_ssize_t)sizeof(long double);
        if (ok)
            memcpy(&out->ld, view.buf, sizeof(long double));
        PyBuffer_Release(&view);
        if (ok)
            return 0;
        PyErr_SetString(PyExc_SystemError, "fastffi: numpy.longdouble is not this compiler's long double");
        return -1;
    }
    PyNumberMethods *nb = Py_TYPE(o)->tp_as_number;
    if (nb == NULL || (nb->nb_float == NULL && nb->nb_index == NULL) || is_complex_number(o))
        return raise_type_error(kind_name(KIND_LONGDOUBLE), o, ctx);
    double d = PyFloat_AsDouble(o);
    if (d == -1.0 && PyErr_Occurred())
        return -1;
    out->ld = (long double)d;
    return 0;
}

int convert_wide(int kind, PyObject *o, Wide *out, ErrCtx ctx)
{
    if (kind == KIND_LONGDOUBLE)
        return convert_longdouble(o, out, ctx);
    return convert_complex(kind, o, out, ctx);
}

PyObject *box_wide(int kind, const Wide *w)
{
    switch (kind) {
    case KIND_C64: return PyComplex_FromDoubles(w->f[0], w->f[1]);
    case KIND_C128: return PyComplex_FromDoubles(w->d[0], w->d[1]);
    case KIND_LONGDOUBLE: {
        PyObject *approx = PyFloat_FromDouble((double)w->ld);
        if (approx == NULL || longdouble_box == NULL)
            return approx;
        PyObject *raw = PyBytes_FromStringAndSize((const char *)&w->ld, (Py_ssize_t)sizeof(long double));
        if (raw == NULL) {
            Py_DECREF(approx);
            return NULL;
        }
        PyObject *r = PyObject_CallFunctionObjArgs(longdouble_box, raw, approx, NULL);
        Py_DECREF(raw);
        Py_DECREF(approx);
        return r;
    }
    default:
        PyErr_Format(PyExc_SystemError, "fastffi: kind %d is not wide", kind);
        return NULL;
    }
}
