/* Calls of a variadic declaration: dispatch to the Function made for the
 * promoted types of the extra arguments (fastffi/tiers/variadic.py).
 *
 * A variadic declaration (`int snprintf(char *, size_t, const char *, ...)`)
 * is a Function whose entry point is call_variadic.  Each extra argument is
 * typed by its Python value after C's default argument promotions (C11
 * 6.5.2.2p6-7): the common types are typed here -- exact int, float, bool,
 * str, bytes, None, bytearray, fastffi objects, Callbacks -- into a key of one 4-bit
 * kind code per extra argument, looked up among the last few Functions this
 * declaration dispatched to; the Function found is then called with the same
 * arguments (its own entry point converts and calls, on its own tier).
 * Everything else (numpy scalars, other buffers, subclasses, a miss) asks
 * Python, which types by the full rules, raises the errors and caches by
 * types tuple; only a key typed here is remembered here. */
#include "core.h"

#include "callbacks/callback.h"
#include "runtime/convert.h"

/* Python's side: Variadic.dispatch(fn, extras) -> Function and
 * Variadic.specialise(types) -> Function (fastffi/tiers/variadic.py). */
static PyObject *str_dispatch, *str_specialise;

int variadic_prepare(FunctionObject *f, PyObject *variadic)
{
    if (str_dispatch == NULL && (str_dispatch = PyUnicode_InternFromString("dispatch")) == NULL)
        return -1;
    if (str_specialise == NULL && (str_specialise = PyUnicode_InternFromString("specialise")) == NULL)
        return -1;
    if (f->nfixed != f->nargs) {
        PyErr_SetString(PyExc_ValueError, "a variadic declaration has its fixed arguments only");
        return -1;
    }
    f->variadic = Py_NewRef(variadic);
    return 0;
}

void variadic_clear(FunctionObject *f)
{
    for (int i = 0; i < FASTFFI_VARIADIC_CACHE; i++)
        Py_CLEAR(f->vcache[i].fn);
    Py_CLEAR(f->variadic);
}

int variadic_traverse(FunctionObject *f, visitproc visit, void *arg)
{
    for (int i = 0; i < FASTFFI_VARIADIC_CACHE; i++)
        Py_VISIT(f->vcache[i].fn);
    Py_VISIT(f->variadic);
    return 0;
}

/* The promoted kind of one extra argument, or 0: ask Python.  An int is
 * passed as a 64-bit integer: on x86-64 SysV and AAPCS64 (the only ABIs with
 * inference, tiers/variadic.py) every integer vararg fills one 8-byte slot or
 * register, so va_arg reading int, long or size_t reads what was passed. */
_Static_assert(KIND_BOOL < 16 && KIND_I64 < 16 && KIND_F64 < 16 && KIND_POINTER < 16 && KIND_STRING < 16,
               "call_variadic's key holds each promoted kind in a nibble");

static inline int promoted_kind(PyObject *o)
{
    PyTypeObject *t = Py_TYPE(o);
    if (t == &PyLong_Type) {
        int64_t v;
        if (compat_long_compact_value(o, &v))
            return KIND_I64;
        int overflow;
        (void)PyLong_AsLongLongAndOverflow(o, &overflow);
        /* Above INT64_MAX (u64) or beyond 64 bits: Python decides and says. */
        return overflow == 0 ? KIND_I64 : 0;
    }
    if (t == &PyFloat_Type)
        return KIND_F64;
    if (t == &PyUnicode_Type || t == &PyBytes_Type)
        return KIND_STRING;
    if (o == Py_None || t == &PyByteArray_Type || Function_Check(o) || CData_Check(o) || Callback_Check(o))
        return KIND_POINTER;
    if (t == &PyBool_Type)
        return KIND_BOOL;   /* passed widened, as an int (C's promotion of _Bool) */
    return 0;
}

static PyObject *raise_too_few(FunctionObject *f, Py_ssize_t given)
{
    PyErr_Format(PyExc_TypeError, "%U() takes at least %zd argument%s (%zd given)", f->name, f->nfixed,
                 f->nfixed == 1 ? "" : "s", given);
    return NULL;
}

/* A reference is held for the call: converting an argument may run Python
 * code (__index__, __buffer__) that calls this declaration with other types
 * and evicts the cache entry `fn` came from. */
static PyObject *call_found(PyObject *fn, PyObject *const *args, size_t nargsf)
{
    Py_INCREF(fn);
    PyObject *result = ((PyTypeObject *)fn)->tp_vectorcall(fn, args, nargsf, NULL);
    Py_DECREF(fn);
    return result;
}

/* A miss, or a type only Python knows: Python picks the Function (and says
 * what is wrong); a key typed here is remembered.  Out of line, so the hit
 * path saves no registers for it. */
static COMPAT_NO_INLINE PyObject *dispatch_slow(FunctionObject *f, PyObject *const *args, size_t nargsf,
                                                Py_ssize_t n, int typed, uint64_t key)
{
    PyObject *extras = PyTuple_New(n - f->nfixed);
    if (extras == NULL)
        return NULL;
    for (Py_ssize_t i = f->nfixed; i < n; i++)
        PyTuple_SET_ITEM(extras, i - f->nfixed, Py_NewRef(args[i]));
    PyObject *variadic = Py_NewRef(f->variadic);
    PyObject *fn = PyObject_CallMethodObjArgs(variadic, str_dispatch, (PyObject *)f, extras, NULL);
    Py_DECREF(variadic);
    Py_DECREF(extras);
    if (fn == NULL)
        return NULL;
    if (!Function_Check(fn) || ((FunctionObject *)fn)->nargs != n) {
        Py_DECREF(fn);
        PyErr_Format(PyExc_SystemError, "%U: the variadic dispatch returned no fitting Function", f->name);
        return NULL;
    }
    if (typed) {
        unsigned slot = f->vnext++ % FASTFFI_VARIADIC_CACHE;
        f->vcache[slot].key = key;
        Py_XSETREF(f->vcache[slot].fn, Py_NewRef(fn));
    }
    PyObject *result = ((PyTypeObject *)fn)->tp_vectorcall(fn, args, nargsf, NULL);
    Py_DECREF(fn);
    return result;
}

PyObject *call_variadic(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    FunctionObject *f = (FunctionObject *)self;
    Py_ssize_t n = PyVectorcall_NARGS(nargsf);
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0)
        return raise_kwargs(f);
    if (n < f->nfixed)
        return raise_too_few(f, n);
    /* One nibble per extra argument, none zero: the key also encodes the
     * count (16 extras at most; more ask Python). */
    uint64_t key = 0;
    if (n - f->nfixed > 16)
        return dispatch_slow(f, args, nargsf, n, 0, 0);
    for (Py_ssize_t i = f->nfixed; i < n; i++) {
        int k = promoted_kind(args[i]);
        if (k == 0)
            return dispatch_slow(f, args, nargsf, n, 0, 0);
        key = key << 4 | (uint64_t)k;
    }
    for (int i = 0; i < FASTFFI_VARIADIC_CACHE; i++)
        if (f->vcache[i].key == key && f->vcache[i].fn != NULL)
            return call_found(f->vcache[i].fn, args, nargsf);
    return dispatch_slow(f, args, nargsf, n, 1, key);
}

/* fn.variadic(*types): Python makes (and caches) it. */
PyObject *variadic_method(FunctionObject *f, PyObject *args)
{
    if (f->variadic == NULL) {
        PyErr_Format(PyExc_TypeError, "%U() is not a variadic declaration (no '...' in its signature)", f->name);
        return NULL;
    }
    return PyObject_CallMethodObjArgs(f->variadic, str_specialise, args, NULL);
}
