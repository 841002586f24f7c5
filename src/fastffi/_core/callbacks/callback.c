/* fastffi.Callback and the one dispatcher every mechanism ends in.
 *
 * An invocation from C:
 *   1. errno saved (the Python part must not clobber what C sees);
 *   2. the GIL: already held (called from inside a call, GIL kept) costs one
 *      check; a thread with a Python thread state takes it back; a thread C
 *      created gets a thread state once and keeps it for its whole life, so
 *      threading.local() persists across its calls (threads.c);
 *   3. a retired target reports CallbackClosedError and returns the error
 *      image; else each argument is boxed from its C representation and
 *      `func` is called by vectorcall;
 *   4. the result is converted with the checks an argument of a call gets
 *      (OverflowError and TypeError, never truncation) and written;
 *   5. any exception goes to onerror, or is held by the fastffi call that
 *      was passed this callback (scope.c), or to sys.unraisablehook -- and
 *      C gets the error image.  Nothing crosses into C. */
#include <errno.h>

#include "callbacks/callback.h"
#include "callbacks/callback_spec.h"
#include "callbacks/threads.h"
#include "runtime/convert.h"

PyObject *CallbackClosedError;

/* ---- retirement and quarantine ---- */

/* Retired targets, oldest first.  Only touched with the GIL held (close(),
 * dealloc), so no lock. */
static CallbackTarget *quarantine_head, *quarantine_tail;
static Py_ssize_t quarantine_count;

static void target_free(CallbackTarget *t)
{
    if (t->release != NULL)
        t->release(t);
    PyMem_RawFree(t->error_image);
    PyMem_RawFree(t);
}

/* The callback is gone; its address stays reserved -- a call through it
 * reports and returns the error image -- until CALLBACK_QUARANTINE later
 * retirements have passed, and only then goes back to its mechanism. */
static void target_retire(CallbackTarget *t)
{
    t->cb = NULL;
    t->quarantine_next = NULL;
    if (quarantine_tail != NULL)
        quarantine_tail->quarantine_next = t;
    else
        quarantine_head = t;
    quarantine_tail = t;
    if (++quarantine_count > CALLBACK_QUARANTINE) {
        CallbackTarget *oldest = quarantine_head;
        quarantine_head = oldest->quarantine_next;
        quarantine_count--;
        target_free(oldest);
    }
}

/* ---- converting a result ---- */

static Py_ssize_t result_bytes(int retkind, Py_ssize_t retsize)
{
    return retsize > CALLBACK_RESULT_BYTES(retkind) ? retsize : CALLBACK_RESULT_BYTES(retkind);
}

/* `o` as the result C receives, written to `out` (8 bytes for a scalar,
 * retsize for a struct).  A pointer result must be an address that outlives
 * the callback: an int, None, a Callback, a Function or fastffi memory -- never a str or
 * bytes, whose memory is freed when the callback returns.  -1 with an
 * exception set; `out` is untouched then. */
/* A Callback returned as a pointer result: its address, if it is open and,
 * for a function-pointer result, of that type -- C calls it as declared, so
 * one of another signature is refused, as for a parameter.  Out of line:
 * most pointer results are ints or memory. */
static COMPAT_NO_INLINE int callback_result_address(const CallbackObject *cb, PyObject *where,
                                                    const CallbackObject *other, Slot *s)
{
    /* A retired address runs nothing: refused as a closed Callback passed to
     * a call or stored in memory is. */
    if (other->target == NULL || other->target->cb == NULL) {
        PyErr_Format(CallbackClosedError, "%U: callback %R is closed", where, other->name);
        return -1;
    }
    if (cb->retfunction != NULL) {
        int same = PyObject_RichCompareBool(other->key, PyTuple_GET_ITEM(cb->retfunction, 0), Py_EQ);
        if (same < 0)
            return -1;
        if (!same) {
            PyErr_Format(PyExc_TypeError, "%U: expected a callback of type %U, got callback %R of type %U",
                         where, PyTuple_GET_ITEM(cb->retfunction, 1), other->name, other->signature);
            return -1;
        }
    }
    s->p = other->address;
    return 0;
}

static int convert_result(int kind, const CallbackObject *cb, Py_ssize_t retsize, PyObject *where, PyObject *o,
                          void *out)
{
    if (where == NULL)
        return -1;   /* result_where could not make its text: MemoryError set */
    ErrCtx ctx = {where, 0};
    Slot s[2] = {{0}};   /* two for i128/u128 */
    if (kind == KIND_VOID)
        return 0;
    if (kind == KIND_STRUCT) {
        if (!PyObject_TypeCheck(o, (PyTypeObject *)cb->retstruct))
            return raise_struct_mismatch(cb->retstruct, o, ctx);
        memcpy(out, ((CDataObject *)o)->ptr, (size_t)retsize);
        return 0;
    }
    if (kind == KIND_POINTER || kind == KIND_STRING || kind == KIND_WSTRING) {
        if (o == Py_None)
            s[0].p = NULL;
        else if (Callback_Check(o)) {
            if (callback_result_address(cb, where, (const CallbackObject *)o, s) < 0)
                return -1;
        }
        else if (Function_Check(o))
            s[0].p = (void *)((FunctionObject *)o)->target;
        else if (CData_Check(o))
            s[0].p = ((CDataObject *)o)->ptr;
        else if (PyLong_Check(o) && !PyBool_Check(o)) {
            /* An address, range-checked as any pointer argument is. */
            BufferList none = {NULL, 0};
            if (convert_scalar(KIND_POINTER, o, s, &none, ctx) < 0)
                return -1;
        }
        else {
            PyErr_Format(PyExc_TypeError,
                         "%U: expected an address for %U (an int, None, a Callback, a Function or fastffi memory), "
                         "got %.200s"
                         "%s", where, kind_name(kind), Py_TYPE(o)->tp_name,
                         PyUnicode_Check(o) || PyBytes_Check(o)
                             ? " (its memory would be freed when the callback returns)" : "");
            return -1;
        }
    }
    else if (kind_is_wide(kind)) {
        /* libffi mechanism only (tiers/callback.py): its closure loads the
         * value from the result buffer at the type's size -- xmm0[:xmm1],
         * st0 (fldt reads the 10 bytes of x87 extended), q0, s0:s1, d0:d1. */
        Wide w;
        if (convert_wide(kind, o, &w, ctx) < 0)
            return -1;
        memcpy(out, &w, CALLBACK_RESULT_BYTES(kind));
        return 0;
    }
    else {
        BufferList none = {NULL, 0};
        if (convert_scalar(kind, o, s, &none, ctx) < 0)
            return -1;
    }
    memcpy(out, s, CALLBACK_RESULT_BYTES(kind));
    return 0;
}

/* "callback 'cmp' result", the prefix of a result's error messages: made on
 * first use (most callbacks never need it, and creation stays cheap), NULL
 * with MemoryError set if it cannot be. */
static PyObject *result_where(CallbackObject *cb)
{
    if (cb->result_where == NULL)
        cb->result_where = PyUnicode_FromFormat("callback %R result", cb->name);
    return cb->result_where;
}

static void write_error_image(const CallbackTarget *t, void *result)
{
    if (t->retkind != KIND_VOID)
        memcpy(result, t->error_image,
               (size_t)(t->retkind == KIND_STRUCT ? t->retsize : CALLBACK_RESULT_BYTES(t->retkind)));
}

/* ---- the dispatcher ---- */

/* The kinds whose boxing needs more than a register image: out of line, so
 * that the common kinds' switch stays small where it is inlined into the
 * dispatch loop. */
static COMPAT_NO_INLINE PyObject *box_argument_rare(const CallbackObject *cb, Py_ssize_t i, const void *p)
{
    switch (cb->argkinds[i]) {
    /* both eightbytes are adjacent where `p` points (a register
     * pair spilled in order, or one 16-byte stack slot). */
    case KIND_I128: case KIND_U128: {
        Slot s[2];
        memcpy(s, p, sizeof s);
        return box_int128(cb->argkinds[i], s);
    }
    /* libffi mechanism only: `p` points at the value's own bytes (libffi
     * copies a register-passed complex or q value into its frame). */
    case KIND_C64: case KIND_C128: case KIND_LONGDOUBLE: {
        Wide w;
        memset(&w, 0, sizeof w);
        memcpy(&w, p, cb->argkinds[i] == KIND_C64 ? sizeof(float _Complex)
                      : cb->argkinds[i] == KIND_C128 ? sizeof(double _Complex) : sizeof(long double));
        return box_wide(cb->argkinds[i], &w);
    }
    case KIND_WSTRING:   /* only `const wchar_t *` parameters, as for strings below */
        return box_wstring(*(const wchar_t *const *)p);
    case KIND_STRING: {
        /* Only `const char *` parameters arrive as str (tiers/callback.py
         * gives any other `char *` the pointer kind: curl's write buffer is
         * not NUL-terminated). */
        const char *s = *(const char *const *)p;
        if (s == NULL)
            Py_RETURN_NONE;
        return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape");
    }
    case KIND_STRUCT: {
        Py_ssize_t size = cb->structsizes[i];
        PyObject *o = cdata_alloc((PyTypeObject *)PyTuple_GET_ITEM(cb->argstructs, i), size);
        if (o != NULL)
            memcpy(((CDataObject *)o)->ptr, p, (size_t)size);
        return o;
    }
    default:
        PyErr_Format(PyExc_SystemError, "fastffi: cannot box callback argument kind %d", cb->argkinds[i]);
        return NULL;
    }
}

static PyObject *box_argument(const CallbackObject *cb, Py_ssize_t i, const void *p)
{
    switch (cb->argkinds[i]) {
    case KIND_BOOL: return PyBool_FromLong(*(const uint8_t *)p != 0);
    case KIND_I8: return PyLong_FromLong(*(const int8_t *)p);
    case KIND_I16: return PyLong_FromLong(*(const int16_t *)p);
    case KIND_I32: return PyLong_FromLong(*(const int32_t *)p);
    case KIND_I64: return PyLong_FromLongLong(*(const int64_t *)p);
    case KIND_U8: return PyLong_FromLong(*(const uint8_t *)p);
    case KIND_U16: return PyLong_FromLong(*(const uint16_t *)p);
    case KIND_U32: return PyLong_FromUnsignedLong(*(const uint32_t *)p);
    case KIND_U64: return PyLong_FromUnsignedLongLong(*(const uint64_t *)p);
    case KIND_F32: return PyFloat_FromDouble(*(const float *)p);
    case KIND_F64: return PyFloat_FromDouble(*(const double *)p);
    case KIND_POINTER: return PyLong_FromVoidPtr(*(void *const *)p);
    default:
        return box_argument_rare(cb, i, p);
    }
}

/* The exception set now, from `func` or its result: to onerror, to the
 * fastffi call holding this callback, or to sys.unraisablehook (with the
 * Callback as the object).  Writes what C gets. */
void callback_fail(CallbackObject *cb, CallbackTarget *t, void *result)
{
    if (cb->onerror != Py_None) {
        PyObject *exc = compat_fetch_exception();
        PyObject *tb = exc != NULL ? PyException_GetTraceback(exc) : NULL;
        PyObject *value = PyObject_CallFunctionObjArgs(cb->onerror, (PyObject *)Py_TYPE(exc), exc,
                                                       tb != NULL ? tb : Py_None, NULL);
        Py_XDECREF(tb);
        Py_XDECREF(exc);
        if (value != NULL && value != Py_None
            && convert_result(t->retkind, cb, t->retsize, result_where(cb), value, result) == 0) {
            Py_DECREF(value);
            return;
        }
        write_error_image(t, result);
        if (value == NULL || value != Py_None)
            PyErr_WriteUnraisable((PyObject *)cb);   /* onerror raised, or returned what C cannot take */
        Py_XDECREF(value);
        return;
    }
    write_error_image(t, result);
    if (!callback_scope_hold(cb))
        PyErr_WriteUnraisable((PyObject *)cb);
}

int callback_convert_result(CallbackObject *cb, CallbackTarget *t, PyObject *o, void *out)
{
    return convert_result(t->retkind, cb, t->retsize, result_where(cb), o, out);
}

static PyObject *plain_vectorcall(PyObject *func, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    return PyObject_Vectorcall(func, args, nargsf, kwnames);
}

vectorcallfunc callback_call_of(PyObject *func)
{
    vectorcallfunc own = Py_IS_TYPE(func, &PyFunction_Type) ? PyVectorcall_Function(func) : NULL;
    return own != NULL ? own : plain_vectorcall;
}

/* One invocation with the GIL held by `ts`.  Argument i is at argp[i], or
 * at frame + off[i] when off is given (callback_invoke_direct): inlined
 * into both callers, each with its own constant choice. */
static inline COMPAT_ALWAYS_INLINE void callback_run(CallbackObject *cb, PyThreadState *ts, void *const *argp,
                                                     const unsigned char *frame, const uint8_t *off, void *result)
{
    PyObject *stack[FASTFFI_MAX_ARGS];
    Py_ssize_t n = cb->nargs, i;
    /* Read now: func may close the callback (cb->target becomes NULL); the
     * retired target stays allocated in the quarantine. */
    CallbackTarget *t = cb->target;
    /* C re-entering Python through callbacks (a comparator that sorts)
     * counts as recursion: deep enough, RecursionError instead of a
     * blown C stack.  The counter is moved inline; at the limit the API
     * call raises the RecursionError. */
    int counted = compat_recursion_enter(ts) == 0;
    if (!counted && Py_EnterRecursiveCall(" in a fastffi callback")) {
        callback_fail(cb, t, result);
        return;
    }
    Py_INCREF(cb);   /* func may close it, or drop the last reference */
    for (i = 0; i < n; i++) {
        stack[i] = box_argument(cb, i, off != NULL ? (const void *)(frame + off[i]) : argp[i]);
        if (stack[i] == NULL)
            break;
    }
    PyObject *value = i == n ? cb->call(cb->func, stack, (size_t)n, NULL) : NULL;
    while (i > 0)
        Py_DECREF(stack[--i]);
    if (counted)
        compat_recursion_leave(ts);
    else
        Py_LeaveRecursiveCall();
    int kind = t->retkind;
    int64_t v;
    /* An exact int for an integer result, an exact float for a double: the
     * common returns, written without the general conversion. */
    if (kind >= KIND_I8 && kind <= KIND_U64 && value != NULL && PyLong_CheckExact(value)
        && compat_long_compact_value(value, &v) && (uint64_t)v - (uint64_t)kind_min[kind] <= kind_span[kind])
        *(int64_t *)result = v;
    else if (kind == KIND_F64 && value != NULL && PyFloat_CheckExact(value))
        *(double *)result = PyFloat_AS_DOUBLE(value);
    else if (value == NULL || convert_result(kind, cb, t->retsize, result_where(cb), value, result) < 0)
        callback_fail(cb, t, result);
    Py_XDECREF(value);
    Py_DECREF(cb);
}

static void report_retired(const CallbackTarget *t, void *result)
{
    write_error_image(t, result);
    PyErr_Format(CallbackClosedError, "callback '%s' was called after it was closed; C got its error value",
                 t->name);
    PyErr_WriteUnraisable(NULL);
}

static inline COMPAT_ALWAYS_INLINE void invoke(CallbackTarget *t, void *const *argp, const unsigned char *frame,
                                               const uint8_t *off, void *result)
{
    int *errnop = &errno;   /* one thread-local address for the whole call */
    int saved_errno = *errnop;
    ThreadEntry entry;
    PyThreadState *ts = thread_enter(&entry);
    if (ts == NULL) {
        /* The interpreter is finalizing: no Python may run. */
        write_error_image(t, result);
        *errnop = saved_errno;
        return;
    }
    CallbackObject *cb = t->cb;   /* read with the GIL: close() runs with it too */
    if (cb != NULL)
        callback_run(cb, ts, argp, frame, off, result);
    else
        report_retired(t, result);
    thread_leave(&entry);
    *errnop = saved_errno;
}

void callback_invoke(CallbackTarget *t, void *const *argp, void *result)
{
    invoke(t, argp, NULL, NULL, result);
}

void callback_invoke_direct(CallbackTarget *t, const unsigned char *frame, const uint8_t *off, void *result)
{
    invoke(t, NULL, frame, off, result);
}

/* ---- creation ---- */

static const struct {
    const char *name;
    int (*prepare)(CallbackObject *cb, PyObject *const *spec);
} mechanisms[CALLBACK__COUNT] = {
#define X(code, name, prepare) [CALLBACK_##code] = {name, prepare},
    FASTFFI_CALLBACK_MECHANISMS(X)
#undef X
};

static int spec_index(PyObject *const *spec, int field, const char *name, Py_ssize_t lo, Py_ssize_t hi,
                      Py_ssize_t *out)
{
    Py_ssize_t v = PyLong_Check(spec[field]) ? PyLong_AsSsize_t(spec[field]) : -1;
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < lo || v >= hi) {
        PyErr_Format(PyExc_ValueError, "make_callback: spec.%s out of range", name);
        return -1;
    }
    *out = v;
    return 0;
}

static const char *spec_problem(PyObject *const *spec, Py_ssize_t nargs, Py_ssize_t retkind, Py_ssize_t mechanism)
{
    /* The pool and the thunk box 8-byte register images (tiers/callback.py
     * never gives them these kinds): refused here too, not read in part. */
    if (mechanism != CALLBACK_LIBFFI && kind_is_wide((int)retkind))
        return "only the libffi mechanism takes c64/c128/longdouble";
    if (!PyUnicode_Check(spec[CBSPEC_NAME]) || !PyUnicode_Check(spec[CBSPEC_SIGNATURE]))
        return "name and signature must be str";
    if (!PyCallable_Check(spec[CBSPEC_FUNC]))
        return "func must be callable";
    if (spec[CBSPEC_ONERROR] != Py_None && !PyCallable_Check(spec[CBSPEC_ONERROR]))
        return "onerror must be None or callable";
    if (nargs > FASTFFI_MAX_ARGS)
        return "too many arguments";
    if (!PyTuple_Check(spec[CBSPEC_ARGSTRUCTS]) || PyTuple_GET_SIZE(spec[CBSPEC_ARGSTRUCTS]) != nargs
        || !PyTuple_Check(spec[CBSPEC_ARGTYPES]) || PyTuple_GET_SIZE(spec[CBSPEC_ARGTYPES]) != nargs)
        return "argstructs and argtypes must be tuples with one entry per argument";
    PyObject *rf = spec[CBSPEC_RETFUNCTION];
    if (rf != Py_None && !(PyTuple_Check(rf) && PyTuple_GET_SIZE(rf) == 2 && PyUnicode_Check(PyTuple_GET_ITEM(rf, 1))))
        return "retfunction must be None or (key, type text)";
    PyObject *rs = spec[CBSPEC_RETSTRUCT];
    if (retkind == KIND_STRUCT && !(PyType_Check(rs) && PyType_IsSubtype((PyTypeObject *)rs, &CData_Type)))
        return "a struct result needs its CData class";
    for (Py_ssize_t i = 0; i < nargs; i++) {
        uint8_t k = (uint8_t)PyBytes_AS_STRING(spec[CBSPEC_ARGKINDS])[i];
        PyObject *s = PyTuple_GET_ITEM(spec[CBSPEC_ARGSTRUCTS], i);
        if (k == KIND_VOID || k >= KIND__COUNT)
            return "bad argument kind";
        if (mechanism != CALLBACK_LIBFFI && kind_is_wide(k))
            return "only the libffi mechanism takes c64/c128/longdouble";
        if (k == KIND_STRUCT && !(PyType_Check(s) && PyType_IsSubtype((PyTypeObject *)s, &CData_Type)))
            return "a struct argument needs its CData class";
    }
    return NULL;
}

/* The bytes of a struct class (its `_size_`, set by fastffi.struct). */
static Py_ssize_t struct_size(PyObject *cls)
{
    PyObject *size = PyObject_GetAttrString(cls, "_size_");
    if (size == NULL)
        return -1;
    Py_ssize_t n = PyLong_AsSsize_t(size);
    Py_DECREF(size);
    return n;
}

/* make_callback(spec: CallbackSpec) -> Callback */
static PyObject *callback_make(PyObject *module, PyObject *spec_obj)
{
    (void)module;
    if (core_require_init() < 0)
        return NULL;
    if (!PyTuple_Check(spec_obj) || PyTuple_GET_SIZE(spec_obj) != CBSPEC__COUNT) {
        PyErr_Format(PyExc_TypeError, "make_callback() takes a CallbackSpec (%d fields), got %.200s", CBSPEC__COUNT,
                     Py_TYPE(spec_obj)->tp_name);
        return NULL;
    }
    PyObject *const *spec = &PyTuple_GET_ITEM(spec_obj, 0);
    Py_ssize_t retkind, retsize, mechanism;
    if (spec_index(spec, CBSPEC_RETKIND, "retkind", 0, KIND__COUNT, &retkind) < 0
        || spec_index(spec, CBSPEC_RETSIZE, "retsize", 0, PY_SSIZE_T_MAX, &retsize) < 0
        || spec_index(spec, CBSPEC_MECHANISM, "mechanism", 0, CALLBACK__COUNT, &mechanism) < 0)
        return NULL;
    if (!PyBytes_Check(spec[CBSPEC_ARGKINDS])) {
        PyErr_SetString(PyExc_TypeError, "make_callback: spec.argkinds must be bytes");
        return NULL;
    }
    Py_ssize_t nargs = PyBytes_GET_SIZE(spec[CBSPEC_ARGKINDS]);
    const char *problem = spec_problem(spec, nargs, retkind, mechanism);
    if (problem != NULL) {
        PyErr_Format(PyExc_ValueError, "make_callback: %s", problem);
        return NULL;
    }
    /* PEP 578: Python code is about to become callable from C. */
    if (PySys_Audit("fastffi.callback", "OO", spec[CBSPEC_SIGNATURE], spec[CBSPEC_FUNC]) < 0)
        return NULL;

    CallbackObject *cb = PyObject_GC_New(CallbackObject, &Callback_Type);
    if (cb == NULL)
        return NULL;
    cb->target = NULL;
    cb->address = NULL;
    cb->weakreflist = NULL;
    cb->structsizes = NULL;
    cb->retstruct = NULL;
    cb->retfunction = NULL;
    cb->keepalive = NULL;
    cb->mechanism = (int)mechanism;
    cb->nargs = nargs;
    cb->func = Py_NewRef(spec[CBSPEC_FUNC]);
    cb->call = callback_call_of(cb->func);
    cb->onerror = Py_NewRef(spec[CBSPEC_ONERROR]);
    cb->name = Py_NewRef(spec[CBSPEC_NAME]);
    cb->signature = Py_NewRef(spec[CBSPEC_SIGNATURE]);
    cb->key = Py_NewRef(spec[CBSPEC_KEY]);
    cb->restype = Py_NewRef(spec[CBSPEC_RESTYPE]);
    cb->argtypes = Py_NewRef(spec[CBSPEC_ARGTYPES]);
    cb->argstructs = Py_NewRef(spec[CBSPEC_ARGSTRUCTS]);
    cb->explanation = Py_NewRef(spec[CBSPEC_EXPLANATION]);
    cb->inspect = Py_NewRef(spec[CBSPEC_INSPECT]);
    cb->inspect_made = 0;
    cb->result_where = NULL;   /* made on first use (result_where) */
    if (retkind == KIND_STRUCT)
        cb->retstruct = Py_NewRef(spec[CBSPEC_RETSTRUCT]);
    if (spec[CBSPEC_RETFUNCTION] != Py_None)
        cb->retfunction = Py_NewRef(spec[CBSPEC_RETFUNCTION]);
    for (Py_ssize_t i = 0; i < nargs; i++) {
        cb->argkinds[i] = (uint8_t)PyBytes_AS_STRING(spec[CBSPEC_ARGKINDS])[i];
        if (cb->argkinds[i] != KIND_STRUCT)
            continue;
        if (cb->structsizes == NULL && (cb->structsizes = PyMem_Calloc((size_t)nargs, sizeof(Py_ssize_t))) == NULL) {
            PyErr_NoMemory();
            goto fail;
        }
        if ((cb->structsizes[i] = struct_size(PyTuple_GET_ITEM(cb->argstructs, i))) < 0)
            goto fail;
    }

    CallbackTarget *t = PyMem_RawCalloc(1, sizeof(CallbackTarget));
    if (t == NULL || (t->error_image = PyMem_RawCalloc(1, (size_t)result_bytes((int)retkind, retsize))) == NULL) {
        PyMem_RawFree(t);
        PyErr_NoMemory();
        goto fail;
    }
    cb->target = t;
    t->retkind = (uint8_t)retkind;
    t->retsize = retsize;
    const char *name = PyUnicode_AsUTF8(cb->name);
    if (name == NULL)
        goto fail;
    snprintf(t->name, sizeof t->name, "%s", name);
    /* `error` is converted now, with the result's checks: error=2**40 for an
     * int callback is an OverflowError here, not a truncated value later.
     * None is the zero image (for a struct: zero-filled). */
    PyObject *error = spec[CBSPEC_ERROR];
    /* The default, error=0, for an integer, floating or pointer result is
     * the zero image already there (+0.0 and NULL are all-zero bits). */
    int zero_default = PyLong_CheckExact(error) && compat_long_sign(error) == 0
                       && ((retkind >= KIND_I8 && retkind <= KIND_U64) || retkind == KIND_F32 || retkind == KIND_F64
                           || retkind == KIND_POINTER);
    if (error != Py_None && retkind != KIND_VOID && !zero_default) {
        PyObject *where = PyUnicode_FromFormat("callback %R error value", cb->name);
        int rc = where == NULL ? -1 : convert_result((int)retkind, cb, retsize, where, error, t->error_image);
        Py_XDECREF(where);
        if (rc < 0)
            goto fail;
    }
    if (mechanisms[mechanism].prepare(cb, spec) < 0)
        goto fail;
    t->cb = cb;
    PyObject_GC_Track(cb);
    return (PyObject *)cb;

fail:
    /* Never handed to C: freed at once, not quarantined. */
    if (cb->target != NULL) {
        target_free(cb->target);
        cb->target = NULL;
    }
    Py_DECREF(cb);
    return NULL;
}

/* ---- the Python object ---- */

static void callback_close_target(CallbackObject *cb)
{
    if (cb->target != NULL) {
        CallbackTarget *t = cb->target;
        cb->target = NULL;
        target_retire(t);
    }
}

static int callback_traverse(CallbackObject *cb, visitproc visit, void *arg)
{
    Py_VISIT(cb->func);
    Py_VISIT(cb->onerror);
    Py_VISIT(cb->explanation);
    Py_VISIT(cb->inspect);
    Py_VISIT(cb->retstruct);
    Py_VISIT(cb->retfunction);
    Py_VISIT(cb->argstructs);
    Py_VISIT(cb->restype);
    Py_VISIT(cb->argtypes);
    Py_VISIT(cb->keepalive);
    return 0;
}

/* The collector breaks a cycle through func (a closure that refers to its
 * own Callback): dropping func retires the callback first, so C never
 * reaches a half-cleared object. */
static int callback_clear(CallbackObject *cb)
{
    callback_close_target(cb);
    Py_CLEAR(cb->func);
    Py_CLEAR(cb->onerror);
    Py_CLEAR(cb->explanation);
    Py_CLEAR(cb->inspect);
    return 0;
}

static void callback_dealloc(CallbackObject *cb)
{
    PyObject_GC_UnTrack(cb);
    if (cb->weakreflist != NULL)
        PyObject_ClearWeakRefs((PyObject *)cb);
    callback_clear(cb);
    Py_CLEAR(cb->name);
    Py_CLEAR(cb->signature);
    Py_CLEAR(cb->key);
    Py_CLEAR(cb->restype);
    Py_CLEAR(cb->argtypes);
    Py_CLEAR(cb->retstruct);
    Py_CLEAR(cb->retfunction);
    Py_CLEAR(cb->argstructs);
    Py_CLEAR(cb->keepalive);
    Py_CLEAR(cb->result_where);
    PyMem_Free(cb->structsizes);
    PyObject_GC_Del(cb);
}

static PyObject *raise_callback_closed(CallbackObject *cb)
{
    PyErr_Format(CallbackClosedError, "callback %R is closed", cb->name);
    return NULL;
}

/* Calling a Callback from Python calls func, as C would (no conversion). */
static PyObject *callback_call(CallbackObject *cb, PyObject *args, PyObject *kwargs)
{
    if (cb->target == NULL)
        return raise_callback_closed(cb);
    return PyObject_Call(cb->func, args, kwargs);
}

static PyObject *callback_close(CallbackObject *cb, PyObject *unused)
{
    callback_close_target(cb);
    Py_RETURN_NONE;
}

static PyObject *callback_enter(CallbackObject *cb, PyObject *unused)
{
    if (cb->target == NULL)
        return raise_callback_closed(cb);
    return Py_NewRef(cb);
}

static PyObject *callback_exit(CallbackObject *cb, PyObject *args)
{
    callback_close_target(cb);
    Py_RETURN_NONE;
}

static PyObject *callback_explain(CallbackObject *cb, PyObject *unused)
{
    if (cb->explanation == NULL)
        return PyUnicode_FromString("");
    if (!PyUnicode_Check(cb->explanation)) {
        PyObject *text = PyObject_CallOneArg(cb->explanation, (PyObject *)cb);
        if (text == NULL)
            return NULL;
        Py_SETREF(cb->explanation, text);
    }
    return Py_NewRef(cb->explanation);
}

static PyObject *callback_repr(CallbackObject *cb)
{
    if (cb->target == NULL)
        return PyUnicode_FromFormat("<fastffi.Callback %U, closed>", cb->signature);
    return PyUnicode_FromFormat("<fastffi.Callback %U at %p, %s>", cb->signature, cb->address,
                                mechanisms[cb->mechanism].name);
}

static PyObject *get_address(CallbackObject *cb, void *c) { return PyLong_FromVoidPtr(cb->address); }
static PyObject *get_signature(CallbackObject *cb, void *c) { return Py_NewRef(cb->signature); }
static PyObject *get_name(CallbackObject *cb, void *c) { return Py_NewRef(cb->name); }
static PyObject *get_key(CallbackObject *cb, void *c) { return Py_NewRef(cb->key); }
static PyObject *get_restype(CallbackObject *cb, void *c) { return Py_NewRef(cb->restype); }
static PyObject *get_argtypes(CallbackObject *cb, void *c) { return Py_NewRef(cb->argtypes); }
static PyObject *get_closed(CallbackObject *cb, void *c) { return PyBool_FromLong(cb->target == NULL); }
static PyObject *get_func(CallbackObject *cb, void *c) { return Py_NewRef(cb->func != NULL ? cb->func : Py_None); }
static PyObject *get_tier(CallbackObject *cb, void *c) { return PyUnicode_FromString(mechanisms[cb->mechanism].name); }

/* cb.__signature__, which inspect.signature(cb) reads: made on first use
 * (tiers/introspection.py), then kept; None once the collector cleared it. */
static PyObject *get_inspect(CallbackObject *cb, void *c)
{
    (void)c;
    if (!cb->inspect_made && cb->inspect != NULL && cb->inspect != Py_None) {
        PyObject *sig = PyObject_CallOneArg(cb->inspect, (PyObject *)cb);
        if (sig == NULL)
            return NULL;
        Py_SETREF(cb->inspect, sig);
        cb->inspect_made = 1;
    }
    return Py_NewRef(cb->inspect != NULL ? cb->inspect : Py_None);
}

static PyGetSetDef callback_getset[] = {
    {"address", (getter)get_address, NULL, "The address C calls: fixed for the callback's life.", NULL},
    {"signature", (getter)get_signature, NULL, "The C signature, as str.", NULL},
    {"name", (getter)get_name, NULL, "The declared name (\"callback\" when none was given).", NULL},
    {"key", (getter)get_key, NULL, "What a function-pointer parameter's type is compared with.", NULL},
    {"restype", (getter)get_restype, NULL, "The result type.", NULL},
    {"argtypes", (getter)get_argtypes, NULL, "The argument types.", NULL},
    {"closed", (getter)get_closed, NULL, "Whether close() retired it.", NULL},
    {"func", (getter)get_func, NULL, "The Python callable C reaches.", NULL},
    {"tier", (getter)get_tier, NULL, "The mechanism C reaches it through: 'jit', 'plan' or 'libffi'.", NULL},
    {"__signature__", (getter)get_inspect, NULL, "What inspect.signature(cb) returns.", NULL},
    {NULL},
};

static PyMethodDef callback_object_methods[] = {
    {"close", (PyCFunction)callback_close, METH_NOARGS,
     "Retire the callback: C calls through its address afterwards report CallbackClosedError and return "
     "its error value.  Idempotent."},
    {"explain", (PyCFunction)callback_explain, METH_NOARGS, "Why this mechanism was chosen, and how C reaches it."},
    {"__enter__", (PyCFunction)callback_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)callback_exit, METH_VARARGS, NULL},
    {NULL},
};

PyTypeObject Callback_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fastffi.Callback",
    .tp_doc = "A Python callable C can call: made by fastffi.callback().",
    .tp_basicsize = sizeof(CallbackObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_dealloc = (destructor)callback_dealloc,
    .tp_traverse = (traverseproc)callback_traverse,
    .tp_clear = (inquiry)callback_clear,
    .tp_call = (ternaryfunc)callback_call,
    .tp_repr = (reprfunc)callback_repr,
    .tp_weaklistoffset = offsetof(CallbackObject, weakreflist),
    .tp_methods = callback_object_methods,
    .tp_getset = callback_getset,
};

/* ---- module level ---- */

static PyObject *callback_pool_available(PyObject *module, PyObject *unused)
{
    return PyLong_FromSsize_t(pool_available());
}

static PyObject *callback_quarantined(PyObject *module, PyObject *unused)
{
    return PyLong_FromSsize_t(quarantine_count);
}

PyMethodDef callback_methods[] = {
    {"make_callback", (PyCFunction)callback_make, METH_O, "make_callback(spec: CallbackSpec) -> Callback"},
    {"callback_pool_available", (PyCFunction)callback_pool_available, METH_NOARGS,
     "Slots of the static trampoline pool not in use (live or quarantined)."},
    {"callback_quarantined", (PyCFunction)callback_quarantined, METH_NOARGS,
     "Retired callbacks whose addresses are still held back from reuse."},
    {NULL},
};

int callback_ready(void)
{
    return PyType_Ready(&Callback_Type) < 0 || threads_init() < 0 ? -1 : 0;
}

int callback_add_constants(PyObject *m)
{
    PyObject *fields = PyTuple_New(CBSPEC__COUNT);
    if (fields == NULL)
        return -1;
    static const char *names[CBSPEC__COUNT] = {
#define X(e, name) [CBSPEC_##e] = name,
        FASTFFI_CALLBACK_SPEC(X)
#undef X
    };
    for (int i = 0; i < CBSPEC__COUNT; i++) {
        PyObject *s = PyUnicode_InternFromString(names[i]);
        if (s == NULL) {
            Py_DECREF(fields);
            return -1;
        }
        PyTuple_SET_ITEM(fields, i, s);
    }
    if (PyModule_AddObject(m, "CALLBACK_SPEC_FIELDS", fields) < 0) {
        Py_DECREF(fields);
        return -1;
    }
    if (PyModule_AddIntConstant(m, "CALLBACK_QUARANTINE", CALLBACK_QUARANTINE) < 0 || thunk_add_runtime(m) < 0)
        return -1;
#define X(code, name, prepare) \
    if (PyModule_AddIntConstant(m, "CALLBACK_" #code, CALLBACK_##code) < 0) \
        return -1;
    FASTFFI_CALLBACK_MECHANISMS(X)
#undef X
    Py_INCREF(&Callback_Type);
    if (PyModule_AddObject(m, "Callback", (PyObject *)&Callback_Type) < 0) {
        Py_DECREF(&Callback_Type);
        return -1;
    }
    return 0;
}
