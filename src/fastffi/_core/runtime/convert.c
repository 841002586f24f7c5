/* Cold paths of argument conversion and the exact error messages
 * (docs/errors.md).  Everything here runs only when a fast path in convert.h
 * did not apply, so it favours clarity over speed. */
#include "runtime/convert.h"

#include <math.h>

#include "callbacks/callback.h"

const int64_t kind_min[KIND__COUNT] = {
    [KIND_BOOL] = 0,
    [KIND_I8] = INT8_MIN, [KIND_I16] = INT16_MIN, [KIND_I32] = INT32_MIN, [KIND_I64] = INT64_MIN,
    [KIND_U8] = 0, [KIND_U16] = 0, [KIND_U32] = 0, [KIND_U64] = 0,
    [KIND_POINTER] = 0, [KIND_STRING] = 0,
};

const uint64_t kind_max[KIND__COUNT] = {
    [KIND_BOOL] = 1,
    [KIND_I8] = INT8_MAX, [KIND_I16] = INT16_MAX, [KIND_I32] = INT32_MAX, [KIND_I64] = INT64_MAX,
    [KIND_U8] = UINT8_MAX, [KIND_U16] = UINT16_MAX, [KIND_U32] = UINT32_MAX, [KIND_U64] = UINT64_MAX,
    [KIND_POINTER] = UINTPTR_MAX, [KIND_STRING] = UINTPTR_MAX,
};

const uint64_t kind_span[KIND__COUNT] = {
    [KIND_BOOL] = 1,
    [KIND_I8] = UINT8_MAX, [KIND_I16] = UINT16_MAX, [KIND_I32] = UINT32_MAX, [KIND_I64] = UINT64_MAX,
    [KIND_U8] = UINT8_MAX, [KIND_U16] = UINT16_MAX, [KIND_U32] = UINT32_MAX, [KIND_U64] = INT64_MAX,
    [KIND_POINTER] = INT64_MAX, [KIND_STRING] = INT64_MAX,
};

static PyObject *kind_names[KIND__COUNT];

PyObject *kind_name(int kind)
{
    return kind_names[kind];
}

/* The kind names messages print, made once at module init. */
int convert_init(void)
{
    static const char *names[KIND__COUNT] = {
        [KIND_VOID] = "void",
#define X(e, name, ctype, ffitype) [KIND_##e] = name,
        FASTFFI_SCALAR_KINDS(X)
#undef X
        [KIND_STRUCT] = "struct",
    };
    for (int k = 0; k < KIND__COUNT; k++) {
        kind_names[k] = PyUnicode_InternFromString(names[k]);
        if (kind_names[k] == NULL)
            return -1;
    }
    return 0;
}

COMPAT_NO_INLINE int buffers_release_after_call(BufferList *b)
{
    return buffers_release(b);
}

PyObject *box_string_then_release(const FunctionObject *f, const Slot *r, BufferList *b)
{
    PyObject *result = box_return(f, r);
    /* A callback's held exception, set again by the release, is the call's
     * (callbacks/scope.c), ahead of a failed decoding's. */
    if (buffers_release(b)) {
        Py_XDECREF(result);
        return NULL;
    }
    return result;
}

/* ---- messages ---- */

static PyObject *context_prefix(ErrCtx ctx)
{
    if (ctx.index >= 1)
        return PyUnicode_FromFormat("%U() argument %zd: ", ctx.name, ctx.index);
    return PyUnicode_FromFormat("%U: ", ctx.name);
}

static int raise_with_prefix(PyObject *exc, ErrCtx ctx, PyObject *message)
{
    if (message == NULL)
        return -1;
    PyObject *prefix = context_prefix(ctx);
    if (prefix != NULL) {
        PyObject *full = PyUnicode_Concat(prefix, message);
        if (full != NULL) {
            PyErr_SetObject(exc, full);
            Py_DECREF(full);
        }
        Py_DECREF(prefix);
    }
    Py_DECREF(message);
    return -1;
}

/* tp_name without a module prefix, as type(o).__name__ prints it. */
static const char *short_type_name(PyObject *o)
{
    const char *name = Py_TYPE(o)->tp_name;
    if (!(Py_TYPE(o)->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        const char *dot = strrchr(name, '.');
        if (dot != NULL)
            return dot + 1;
    }
    return name;
}

int raise_type_error(PyObject *expected, PyObject *o, ErrCtx ctx)
{
    return raise_with_prefix(PyExc_TypeError, ctx,
                             PyUnicode_FromFormat("expected %U, got %s", expected, short_type_name(o)));
}

int raise_overflow(PyObject *expected, PyObject *value, ErrCtx ctx)
{
    return raise_with_prefix(PyExc_OverflowError, ctx,
                             PyUnicode_FromFormat("%R does not fit %U", value, expected));
}

static int raise_message(PyObject *exc, ErrCtx ctx, const char *what)
{
    return raise_with_prefix(exc, ctx, PyUnicode_FromString(what));
}

static int raise_value_error(ErrCtx ctx, const char *what)
{
    return raise_message(PyExc_ValueError, ctx, what);
}

PyObject *raise_arity(FunctionObject *f, Py_ssize_t given)
{
    PyErr_Format(PyExc_TypeError, "%U() takes %zd argument%s (%zd given)",
                 f->name, f->nargs, f->nargs == 1 ? "" : "s", given);
    return NULL;
}

PyObject *raise_kwargs(FunctionObject *f)
{
    PyErr_Format(PyExc_TypeError, "%U() takes no keyword arguments", f->name);
    return NULL;
}

PyObject *raise_closed(FunctionObject *f)
{
    PyErr_Format(LibraryClosedError, "%U(): library %R is closed", f->name, f->lib->name);
    return NULL;
}

int raise_struct_mismatch(PyObject *cls, PyObject *o, ErrCtx ctx)
{
    PyObject *name = PyObject_GetAttrString(cls, "__name__");
    if (name == NULL)
        return -1;
    raise_type_error(name, o, ctx);
    Py_DECREF(name);
    return -1;
}

static int raise_expected(int kind, PyObject *o, ErrCtx ctx)
{
    return raise_with_prefix(PyExc_TypeError, ctx,
                             PyUnicode_FromFormat("expected %U, got %s", kind_name(kind), short_type_name(o)));
}

/* ---- integers ---- */

/* `v` is an exact int (or the result of __index__).  Range-check it against
 * `kind`; never truncate. */
static int int_in_range(int kind, PyObject *v, Slot *out, ErrCtx ctx)
{
    int overflow = 0;
    long long s = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (s == -1 && PyErr_Occurred())
        return -1;
    if (overflow == 0) {
        if (s >= kind_min[kind] && (s < 0 || (unsigned long long)s <= kind_max[kind])) {
            out->i = s;
            return 0;
        }
    }
    else if (overflow > 0 && kind_max[kind] > (uint64_t)INT64_MAX) {
        unsigned long long u = PyLong_AsUnsignedLongLong(v);
        if (!(u == (unsigned long long)-1 && PyErr_Occurred())) {
            out->u = u;
            return 0;
        }
        PyErr_Clear();
    }
    return raise_overflow(kind_name(kind), v, ctx);
}

int convert_int_slow(int kind, PyObject *o, Slot *out, ErrCtx ctx)
{
    if (PyLong_Check(o))
        return int_in_range(kind, o, out, ctx);
    /* float has no __index__, so it lands here: never truncated. */
    if (Py_TYPE(o)->tp_as_number == NULL || Py_TYPE(o)->tp_as_number->nb_index == NULL)
        return raise_expected(kind, o, ctx);
    PyObject *v = PyNumber_Index(o);
    if (v == NULL)
        return -1;
    int r = int_in_range(kind, v, out, ctx);
    Py_DECREF(v);
    return r;
}

/* ---- bool ---- */

/* numpy.bool_ has no __index__ (numpy >= 1.24 removed it), so it is
 * recognised by name rather than importing numpy. */
static int is_numpy_bool(PyObject *o)
{
    const char *name = Py_TYPE(o)->tp_name;
    return strcmp(name, "numpy.bool") == 0 || strcmp(name, "numpy.bool_") == 0;
}

/* numpy's scalar types are static types named "numpy.<type>"; ndarray and
 * its subclasses are not scalars. */
static int is_numpy_scalar(PyObject *o)
{
    PyTypeObject *t = Py_TYPE(o);
    return !(t->tp_flags & Py_TPFLAGS_HEAPTYPE) && strncmp(t->tp_name, "numpy.", 6) == 0
           && strcmp(t->tp_name, "numpy.ndarray") != 0;
}

int convert_bool_slow(PyObject *o, Slot *out, ErrCtx ctx)
{
    if (is_numpy_bool(o)) {
        int t = PyObject_IsTrue(o);
        if (t < 0)
            return -1;
        out->u = (uint64_t)t;
        return 0;
    }
    if (PyLong_Check(o) || (Py_TYPE(o)->tp_as_number && Py_TYPE(o)->tp_as_number->nb_index))
        return convert_int_slow(KIND_BOOL, o, out, ctx);
    return raise_expected(KIND_BOOL, o, ctx);
}

/* ---- floats ---- */

int is_complex_number(PyObject *o)
{
    return PyComplex_Check(o) || PyObject_HasAttrString((PyObject *)Py_TYPE(o), "__complex__");
}

int convert_float_slow(int kind, PyObject *o, Slot *out, ErrCtx ctx)
{
    double d;
    if (PyFloat_Check(o)) {
        d = PyFloat_AS_DOUBLE(o);
    }
    else if (PyLong_Check(o)) {
        d = PyLong_AsDouble(o);
        if (d == -1.0 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError))
                return -1;
            PyErr_Clear();
            return raise_overflow(kind_name(kind), o, ctx);
        }
    }
    else {
        PyNumberMethods *nb = Py_TYPE(o)->tp_as_number;
        if (nb == NULL || (nb->nb_float == NULL && nb->nb_index == NULL) || is_complex_number(o))
            return raise_expected(kind, o, ctx);
        d = PyFloat_AsDouble(o);
        if (d == -1.0 && PyErr_Occurred())
            return -1;
    }
    if (kind == KIND_F64) {
        out->d = d;
        return 0;
    }
    float f = (float)d;
    if (isinf(f) && !isinf(d)) {
        PyObject *value = PyFloat_FromDouble(d);
        if (value == NULL)
            return -1;
        raise_overflow(kind_name(kind), value, ctx);
        Py_DECREF(value);
        return -1;
    }
    out->u = 0;
    out->f = f;
    return 0;
}

/* ---- pointers and strings ---- */

/* A new object's buffer, held in `bufs` until the call returns: the object
 * lives exactly as long as the export (the view holds the only reference). */
static int hold_new_buffer(PyObject *obj, Slot *out, BufferList *bufs)
{
    if (obj == NULL)
        return -1;
    Py_buffer *view = &bufs->views[bufs->count].view;
    int r = PyObject_GetBuffer(obj, view, PyBUF_SIMPLE);
    Py_DECREF(obj);
    if (r < 0)
        return -1;
    bufs->count++;
    out->p = view->buf;
    return 0;
}

static int raise_read_only(PyObject *o, ErrCtx ctx)
{
    if (PyBytes_Check(o))
        return raise_message(PyExc_TypeError, ctx,
                             "bytes is read-only; pass a bytearray or declare the parameter const");
    return raise_with_prefix(PyExc_TypeError, ctx,
                             PyUnicode_FromFormat("%s is read-only; pass a writable buffer or declare the "
                                                  "parameter const", short_type_name(o)));
}

/* A buffer must hold one pointee.  An empty one passes for a const pointee
 * (a C function given a length of 0 reads nothing: crc32(0, b"", 0)), not for
 * one C may write: CPython gives every empty bytearray the same static
 * buffer (bytearrayobject.c's _PyByteArray_empty_string), so a write through
 * it (frexp(x, bytearray())) would change what all of them read. */
static int check_buffer_size(int checks, PyObject *pointee, Py_ssize_t n, ErrCtx ctx)
{
    Py_ssize_t need = PyLong_AsSsize_t(PyTuple_GET_ITEM(pointee, POINTEE_SIZE));
    if (need == -1 && PyErr_Occurred())
        return -1;
    if (n >= need || (n == 0 && !(checks & ARG_MUTABLE)))
        return 0;
    return raise_with_prefix(PyExc_ValueError, ctx,
                             PyUnicode_FromFormat("buffer has %zd bytes, %U needs %zd", n,
                                                  PyTuple_GET_ITEM(pointee, POINTEE_NAME), need));
}

/* A fastffi object must be one of the classes that hold the pointee (the
 * pointee's class, its array class, a box or array of a compatible scalar:
 * fastffi/tiers/checks.py decides which). */
static int check_cdata(PyObject *pointee, PyObject *o, ErrCtx ctx)
{
    PyObject *classes = PyTuple_GET_ITEM(pointee, POINTEE_CLASSES);
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(classes); j++)
        if (PyObject_TypeCheck(o, (PyTypeObject *)PyTuple_GET_ITEM(classes, j)))
            return 0;
    return raise_with_prefix(PyExc_TypeError, ctx,
                             PyUnicode_FromFormat("expected %U, got %s", PyTuple_GET_ITEM(pointee, POINTEE_PARAM),
                                                  short_type_name(o)));
}

/* The export is the object's own storage, which CPython keeps followed by a
 * NUL: bytes (PyBytesObject's ob_sval) and bytearray (its resize keeps
 * ob_start[size] == 0).  Compared by address so an exporter that only
 * claims to be one of them (a subclass with __buffer__) gets no exemption. */
static int own_nul_terminated_storage(PyObject *o, const Py_buffer *view)
{
    if (PyBytes_Check(o))
        return view->buf == PyBytes_AS_STRING(o) && view->len == PyBytes_GET_SIZE(o);
    if (PyByteArray_Check(o))
        return view->buf == PyByteArray_AS_STRING(o) && view->len == PyByteArray_GET_SIZE(o);
    return 0;
}

static int acquire_buffer(int checks, PyObject *pointee, PyObject *o, Slot *out, BufferList *bufs, ErrCtx ctx)
{
    Py_buffer *view = &bufs->views[bufs->count].view;
    /* PyBUF_FULL_RO: accept read-only and strided exporters, then insist on
     * C-contiguity (and writability where the pointee is not const)
     * ourselves so the error is ours and says why. */
    if (PyObject_GetBuffer(o, view, PyBUF_FULL_RO) < 0)
        return -1;
    if (!PyBuffer_IsContiguous(view, 'C')) {
        PyBuffer_Release(view);
        return raise_value_error(ctx, "buffer is not C-contiguous");
    }
    if ((checks & ARG_MUTABLE) && view->readonly) {
        PyBuffer_Release(view);
        return raise_read_only(o, ctx);
    }
    if ((checks & ARG_TYPED) && check_buffer_size(checks, pointee, view->len, ctx) < 0) {
        PyBuffer_Release(view);
        return -1;
    }
    /* strlen and friends read up to a NUL: one must be inside the buffer. */
    if ((checks & ARG_NUL) && !own_nul_terminated_storage(o, view)
        && memchr(view->buf, '\0', (size_t)view->len) == NULL) {
        PyBuffer_Release(view);
        return raise_value_error(ctx, "buffer has no null terminator");
    }
    bufs->count++;
    out->p = view->buf;
    return 0;
}

/* A str's UTF-8, as os.fsencode makes it: surrogateescape, so a str that a
 * string result decoded (box_scalar) passes back as the same bytes.  The
 * str caches its strict UTF-8, which lives as long as the str; a str with
 * surrogates is encoded into a new bytes held in `bufs`, and one for a
 * non-const char * is copied into a new bytearray (C may write through it;
 * CPython hands out a compact str's own buffer, shared by every use of an
 * interned or constant str).  `s` and `size` are PyUnicode_AsUTF8AndSize's
 * answer (NULL with its exception set). */
static COMPAT_NO_INLINE int convert_str_slow(int checks, PyObject *o, const char *s, Py_ssize_t size, Slot *out,
                                             BufferList *bufs, ErrCtx ctx)
{
    PyObject *encoded = NULL;
    if (s == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
            return -1;
        PyErr_Clear();
        encoded = PyUnicode_AsEncodedString(o, "utf-8", "surrogateescape");
        if (encoded == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
                return -1;
            /* Named like every other argument error; the codec's own
             * exception stays as the cause. */
            PyObject *cause = compat_fetch_exception();
            raise_with_prefix(PyExc_ValueError, ctx, PyObject_Str(cause));
            PyObject *raised = compat_fetch_exception();
            if (raised != NULL && cause != NULL) {
                PyException_SetCause(raised, Py_NewRef(cause));
                PyException_SetContext(raised, Py_NewRef(cause));
            }
            Py_XDECREF(cause);
            if (raised != NULL)
                compat_restore_exception(raised);
            return -1;
        }
        s = PyBytes_AS_STRING(encoded);
        size = PyBytes_GET_SIZE(encoded);
    }
    if (memchr(s, '\0', (size_t)size) != NULL) {
        Py_XDECREF(encoded);
        return raise_value_error(ctx, "embedded null character");
    }
    if (checks & ARG_MUTABLE) {
        PyObject *copy = PyByteArray_FromStringAndSize(s, size);   /* NUL-terminated, as bytearray always is */
        Py_XDECREF(encoded);
        return hold_new_buffer(copy, out, bufs);
    }
    if (encoded != NULL)
        return hold_new_buffer(encoded, out, bufs);
    out->p = (void *)s;
    return 0;
}

static COMPAT_NO_INLINE int convert_pointer_rest(int kind, PyObject *o, Slot *out, BufferList *bufs, ErrCtx ctx,
                                const FunctionObject *f);

/* ---- callbacks ---- */

static int callback_closed(const CallbackObject *cb)
{
    return cb->target == NULL || cb->target->cb == NULL;
}

/* A Callback passed where a pointer goes is its address.  For a
 * function-pointer parameter (ARG_FUNCTION) its signature must be the
 * parameter's, compared by function key (typedefs resolved, const and names
 * ignored: model/pointers.py); for `void *` any Callback passes.  In a call
 * (`f` set) the call gets a scope record, so an exception the callback
 * raises while C runs it is raised from the call (callbacks/scope.c); a
 * store into memory (`f` NULL) pushes none -- the memory keeps the Callback
 * alive instead (runtime/memory.c). */
static int convert_callback(int checks, PyObject *pointee, CallbackObject *cb, Slot *out, BufferList *bufs,
                            ErrCtx ctx, const FunctionObject *f)
{
    if (callback_closed(cb))
        return raise_with_prefix(CallbackClosedError, ctx, PyUnicode_FromFormat("callback %R is closed", cb->name));
    if (checks & ARG_FUNCTION) {
        int same = PyObject_RichCompareBool(cb->key, PyTuple_GET_ITEM(pointee, FNPOINTEE_KEY), Py_EQ);
        if (same < 0)
            return -1;
        if (!same)
            return raise_with_prefix(PyExc_TypeError, ctx,
                                     PyUnicode_FromFormat("expected a callback of type %U, got callback %R of "
                                                          "type %U",
                                                          PyTuple_GET_ITEM(pointee, FNPOINTEE_SIGNATURE),
                                                          cb->name, cb->signature));
    }
    if (f != NULL)
        scope_push(bufs, (struct CallbackObject *)cb, 0);
    out->p = cb->address;
    return 0;
}

/* A plain Python callable for a function-pointer parameter: wrapped in a
 * temporary Callback of the parameter's signature for this call only (the
 * scope record owns it and closes it when the call returns; docs/callbacks.md:
 * a C library that keeps the pointer needs a Callback the caller keeps). */
static int wrap_callable(PyObject *pointee, PyObject *o, Slot *out, BufferList *bufs, ErrCtx ctx)
{
    PyObject *made = PyObject_CallOneArg(PyTuple_GET_ITEM(pointee, FNPOINTEE_WRAP), o);
    if (made == NULL)
        return -1;
    if (!Callback_Check(made)) {
        Py_DECREF(made);
        return raise_message(PyExc_SystemError, ctx, "the callback maker returned no Callback");
    }
    scope_push(bufs, (struct CallbackObject *)made, 1);
    out->p = ((CallbackObject *)made)->address;
    return 0;
}

/* The common case first, in a function small enough to stay cheap: a str
 * for a const char * is its cached UTF-8. */
int convert_pointer_slow(int kind, PyObject *o, Slot *out, BufferList *bufs, ErrCtx ctx, const FunctionObject *f)
{
    int checks = f != NULL ? f->argchecks[ctx.index - 1] : 0;
    if (kind == KIND_STRING && !(checks & ARG_MUTABLE) && PyUnicode_Check(o)) {
        Py_ssize_t size;
        const char *s = PyUnicode_AsUTF8AndSize(o, &size);
        if (s != NULL && memchr(s, '\0', (size_t)size) == NULL) {
            out->p = (void *)s;
            return 0;
        }
        return convert_str_slow(checks, o, s, size, out, bufs, ctx);
    }
    return convert_pointer_rest(kind, o, out, bufs, ctx, f);
}

/* Everything else (a str here is one for a non-const char *). */
static COMPAT_NO_INLINE int convert_pointer_rest(int kind, PyObject *o, Slot *out, BufferList *bufs, ErrCtx ctx,
                                const FunctionObject *f)
{
    int checks = f != NULL ? f->argchecks[ctx.index - 1] : 0;
    PyObject *pointee = checks & (ARG_TYPED | ARG_FUNCTION) ? PyTuple_GET_ITEM(f->argpointees, ctx.index - 1) : NULL;
    if (kind == KIND_STRING && PyUnicode_Check(o)) {
        Py_ssize_t size;
        const char *s = PyUnicode_AsUTF8AndSize(o, &size);
        return convert_str_slow(checks, o, s, size, out, bufs, ctx);
    }
    if (PyBytes_CheckExact(o)) {
        /* Here only when ARG_BYTES_SLOW is set. */
        if (checks & ARG_MUTABLE)
            return raise_read_only(o, ctx);
        if ((checks & ARG_TYPED) && check_buffer_size(checks, pointee, PyBytes_GET_SIZE(o), ctx) < 0)
            return -1;
        out->p = PyBytes_AS_STRING(o);
        return 0;
    }
    if (kind == KIND_POINTER) {
        if (PyLong_Check(o))
            return int_in_range(KIND_POINTER, o, out, ctx);
        if (CData_Check(o)) {
            if ((checks & ARG_TYPED) && check_cdata(pointee, o, ctx) < 0)
                return -1;
            /* An empty array: for a pointee C may write, as for an empty buffer. */
            if ((checks & ARG_TYPED) && ((CDataObject *)o)->size == 0
                && check_buffer_size(checks, pointee, 0, ctx) < 0)
                return -1;
            out->p = ((CDataObject *)o)->ptr;
            return 0;
        }
        if (Function_Check(o)) {
            out->p = (void *)((FunctionObject *)o)->target;
            return 0;
        }
        if (Callback_Check(o))
            return convert_callback(checks, pointee, (CallbackObject *)o, out, bufs, ctx, f);
        if ((checks & ARG_FUNCTION) && PyCallable_Check(o))
            return wrap_callable(pointee, o, out, bufs, ctx);
    }
    int index_like = Py_TYPE(o)->tp_as_number != NULL && Py_TYPE(o)->tp_as_number->nb_index != NULL;
    if (PyObject_CheckBuffer(o)) {
        /* numpy integer scalars export a buffer too; as a pointer they mean
         * their value, as ctypes and cffi read them. */
        if (kind == KIND_POINTER && index_like && is_numpy_scalar(o))
            return convert_int_slow(KIND_POINTER, o, out, ctx);
        return acquire_buffer(checks, pointee, o, out, bufs, ctx);
    }
    if (kind == KIND_POINTER && index_like)
        return convert_int_slow(KIND_POINTER, o, out, ctx);
    return raise_expected(kind, o, ctx);
}

/* ---- 128-bit integers and wide strings ---- */

/* `v` is an exact int (or __index__'s result).  Split into two eightbytes,
 * low first, using only the public int API of every supported CPython
 * (3.13's PyLong_AsNativeBytes is not in 3.10-3.12): the low half is v mod
 * 2**64, the high half v >> 64 (a floor shift: two's complement), and the
 * high half must fit int64 (i128) or uint64 (u128, v >= 0).  Never truncated. */
static int int128_in_range(int kind, PyObject *v, Slot *out, ErrCtx ctx)
{
    int overflow = 0;
    long long s = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (s == -1 && PyErr_Occurred())
        return -1;
    if (overflow == 0) {
        if (s < 0 && kind == KIND_U128)
            return raise_overflow(kind_name(kind), v, ctx);
        out[0].i = s;
        out[1].i = s < 0 ? -1 : 0;
        return 0;
    }
    if (overflow < 0 && kind == KIND_U128)
        return raise_overflow(kind_name(kind), v, ctx);
    unsigned long long lo = PyLong_AsUnsignedLongLongMask(v);
    if (lo == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    PyObject *shift = PyLong_FromLong(64);
    if (shift == NULL)
        return -1;
    PyObject *hi = PyNumber_Rshift(v, shift);
    Py_DECREF(shift);
    if (hi == NULL)
        return -1;
    int fits;
    if (kind == KIND_I128) {
        long long h = PyLong_AsLongLongAndOverflow(hi, &overflow);
        fits = !(h == -1 && PyErr_Occurred()) && overflow == 0;
        out[1].i = h;
    }
    else {
        unsigned long long h = PyLong_AsUnsignedLongLong(hi);
        fits = !(h == (unsigned long long)-1 && PyErr_Occurred());
        out[1].u = h;
    }
    Py_DECREF(hi);
    if (!fits) {
        /* i128 reports overflow in `overflow`, u128 as an OverflowError. */
        if (PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError))
                return -1;
            PyErr_Clear();
        }
        return raise_overflow(kind_name(kind), v, ctx);
    }
    out[0].u = lo;
    return 0;
}

int convert_int128(int kind, PyObject *o, Slot *out, ErrCtx ctx)
{
    if (PyLong_Check(o))
        return int128_in_range(kind, o, out, ctx);
    /* float has no __index__: refused, never truncated (as for i64). */
    if (Py_TYPE(o)->tp_as_number == NULL || Py_TYPE(o)->tp_as_number->nb_index == NULL)
        return raise_expected(kind, o, ctx);
    PyObject *v = PyNumber_Index(o);
    if (v == NULL)
        return -1;
    int r = int128_in_range(kind, v, out, ctx);
    Py_DECREF(v);
    return r;
}

PyObject *box_int128(int kind, const Slot *r)
{
    uint64_t lo = r[0].u;
    if (kind == KIND_I128 ? r[1].i == ((int64_t)lo < 0 ? -1 : 0) : r[1].u == 0)
        return kind == KIND_I128 ? PyLong_FromLongLong((long long)(int64_t)lo) : PyLong_FromUnsignedLongLong(lo);
    PyObject *hi = kind == KIND_I128 ? PyLong_FromLongLong(r[1].i) : PyLong_FromUnsignedLongLong(r[1].u);
    PyObject *shift = PyLong_FromLong(64);
    PyObject *low = PyLong_FromUnsignedLongLong(lo);
    PyObject *shifted = hi && shift ? PyNumber_Lshift(hi, shift) : NULL;
    PyObject *result = shifted && low ? PyNumber_Or(shifted, low) : NULL;
    Py_XDECREF(hi);
    Py_XDECREF(shift);
    Py_XDECREF(low);
    Py_XDECREF(shifted);
    return result;
}

/* A str for a wchar_t * parameter: copied into a new NUL-terminated wchar_t
 * buffer (UTF-32 on Linux, where wchar_t is 4 bytes) that the call holds
 * in `bufs` -- writable, so a non-const parameter may be written through it.
 * An embedded NUL is refused as for `string` (C would stop there).  Anything
 * else goes the way of a char * argument: bytes and buffers are raw memory. */
PyObject *wstring_copy(PyObject *o, ErrCtx ctx)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(o);
    Py_ssize_t at = PyUnicode_FindChar(o, 0, 0, n, 1);
    if (at == -2)
        return NULL;
    if (at != -1) {
        raise_value_error(ctx, "embedded null character");
        return NULL;
    }
    /* With no buffer: the wchar_t count the copy needs, its NUL included. */
    Py_ssize_t need = PyUnicode_AsWideChar(o, NULL, 0);
    if (need < 0)
        return NULL;
    PyObject *copy = PyByteArray_FromStringAndSize(NULL, need * (Py_ssize_t)sizeof(wchar_t));
    if (copy == NULL)
        return NULL;
    if (PyUnicode_AsWideChar(o, (wchar_t *)PyByteArray_AS_STRING(copy), need) < 0) {
        Py_DECREF(copy);
        return NULL;
    }
    return copy;
}

int convert_wstring_slow(PyObject *o, Slot *out, BufferList *bufs, ErrCtx ctx, const FunctionObject *f)
{
    if (!PyUnicode_Check(o))
        return convert_pointer_rest(KIND_WSTRING, o, out, bufs, ctx, f);
    PyObject *copy = wstring_copy(o, ctx);
    if (copy == NULL)
        return -1;
    return hold_new_buffer(copy, out, bufs);
}

PyObject *box_wstring(const wchar_t *s)
{
    if (s == NULL)
        Py_RETURN_NONE;
    return PyUnicode_FromWideChar(s, (Py_ssize_t)wcslen(s));
}
