/* _core._init(): what the Python package hands the core, once, at import.
 *
 * The core never imports the package (dependencies point one way: down).
 * What it needs from above -- the exception classes it raises and the Python
 * side of fn.map() and fn.shared() -- fastffi/__init__.py passes here before
 * any function can be made.  Until then make_function and LibraryHandle raise
 * RuntimeError instead of raising through a NULL class; every other path that
 * uses these needs a Function or a handle, so it cannot run earlier.
 * A second _init (the package imported again) replaces them all. */
#include "core.h"
#include "callbacks/callback.h"
#include "runtime/convert.h"

PyObject *FFIError, *LibraryClosedError, *LibraryError, *SymbolError, *SignatureError;
PyObject *batch_map, *batch_shared;

int core_require_init(void)
{
    if (batch_shared != NULL)   /* set last: every slot is set */
        return 0;
    PyErr_SetString(PyExc_RuntimeError, "fastffi._core is not initialised: importing fastffi runs "
                                        "_core._init(), which must come before functions or libraries are made");
    return -1;
}

enum { NEEDS_EXCEPTION, NEEDS_CALLABLE };

/* Keyword name, the global it sets, what it must be.  The order is the
 * order of assignment: batch_shared last (core_require_init reads it). */
static const struct {
    const char *name;
    PyObject **slot;
    int needs;
} inputs[] = {
    {"FFIError", &FFIError, NEEDS_EXCEPTION},
    {"LibraryClosedError", &LibraryClosedError, NEEDS_EXCEPTION},
    {"LibraryError", &LibraryError, NEEDS_EXCEPTION},
    {"SymbolError", &SymbolError, NEEDS_EXCEPTION},
    {"SignatureError", &SignatureError, NEEDS_EXCEPTION},
    {"CallbackClosedError", &CallbackClosedError, NEEDS_EXCEPTION},
    {"longdouble", &longdouble_box, NEEDS_CALLABLE},
    {"map", &batch_map, NEEDS_CALLABLE},
    {"shared", &batch_shared, NEEDS_CALLABLE},
};
#define NINPUTS (sizeof(inputs) / sizeof(inputs[0]))

/* _init(*, FFIError, LibraryClosedError, LibraryError, SymbolError,
 *       SignatureError, CallbackClosedError, longdouble, map, shared): every keyword required, all checked
 * before any is kept. */
static PyObject *core_init(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    if (PyTuple_GET_SIZE(args) != 0 || kwargs == NULL || PyDict_GET_SIZE(kwargs) != (Py_ssize_t)NINPUTS) {
        PyErr_Format(PyExc_TypeError, "_init() takes exactly %d keyword arguments", (int)NINPUTS);
        return NULL;
    }
    PyObject *values[NINPUTS];
    for (size_t i = 0; i < NINPUTS; i++) {
        PyObject *v = PyDict_GetItemString(kwargs, inputs[i].name);   /* borrowed */
        if (v == NULL) {
            PyErr_Format(PyExc_TypeError, "_init() missing keyword argument %s", inputs[i].name);
            return NULL;
        }
        int ok = inputs[i].needs == NEEDS_EXCEPTION ? PyExceptionClass_Check(v) : PyCallable_Check(v);
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "_init(): %s must be %s, got %R", inputs[i].name,
                         inputs[i].needs == NEEDS_EXCEPTION ? "an exception class" : "callable", v);
            return NULL;
        }
        values[i] = v;
    }
    for (size_t i = 0; i < NINPUTS; i++)
        Py_XSETREF(*inputs[i].slot, Py_NewRef(values[i]));
    Py_RETURN_NONE;
}

PyMethodDef init_methods[] = {
    {"_init", (PyCFunction)(void (*)(void))core_init, METH_VARARGS | METH_KEYWORDS,
     "_init(*, FFIError, LibraryClosedError, LibraryError, SymbolError, SignatureError, CallbackClosedError, longdouble, map, shared): "
     "what the package hands the core at import (fastffi/__init__.py)."},
    {NULL},
};
