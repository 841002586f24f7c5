/* Raw memory helpers (parity with node:ffi's): reading and writing typed
 * values at addresses, copying bytes out, zero-copy views.  Through a fastffi
 * object (struct, union, array, box) every access is checked against the
 * object's size; a raw address that is not NULL cannot be checked -- a wrong
 * one crashes, as in C; NULL is refused whenever bytes would be touched. */
#include "runtime/convert.h"

#include "callbacks/callback.h"

_Thread_local int fastffi_saved_errno;

void call_errno_in(void)
{
    errno = fastffi_saved_errno;
}

void call_errno_out(void)
{
    fastffi_saved_errno = errno;
}

/* A `ptr` argument resolved: the address, and the fastffi object it came
 * from (NULL for an int address or None).  An object's size bounds every
 * access through it; a raw address is trusted, as in C. */
typedef struct {
    char *p;
    PyObject *obj;
} Target;

static int target_arg(PyObject *o, Target *t)
{
    t->obj = NULL;
    if (o == Py_None) {
        t->p = NULL;
        return 0;
    }
    /* An int before CData: a flag test, where CData_Check walks an int's
     * MRO to say no (no type is both). */
    if (PyLong_Check(o)) {
        uint64_t v;
        /* An exact int below 2**60 (any user-space address): its digits read
         * directly, where the general path makes three calls. */
        if (PyLong_CheckExact(o) && compat_long_small_address(o, &v) && v <= UINTPTR_MAX) {
            t->p = (char *)(uintptr_t)v;
            return 0;
        }
        if (compat_long_sign(o) < 0) {
            PyErr_Format(PyExc_OverflowError, "%R does not fit pointer", o);
            return -1;
        }
        t->p = (char *)PyLong_AsVoidPtr(o);
        return (t->p == NULL && PyErr_Occurred()) ? -1 : 0;
    }
    if (CData_Check(o)) {
        t->p = ((CDataObject *)o)->ptr;
        t->obj = o;
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "expected an address (int), None or a fastffi struct/array/box, got %s",
                 Py_TYPE(o)->tp_name);
    return -1;
}

/* May `helper` touch `size` bytes at `offset` from `t`?  A negative size is a
 * ValueError, so is NULL with bytes to touch; bytes outside a fastffi object
 * are an IndexError (docs/errors.md). */
static int check_access(const char *helper, const Target *t, Py_ssize_t offset, Py_ssize_t size)
{
    if (size < 0) {
        PyErr_Format(PyExc_ValueError, "%s(): negative size", helper);
        return -1;
    }
    if (t->p == NULL && size > 0) {
        PyErr_Format(PyExc_ValueError, "%s(): NULL pointer", helper);
        return -1;
    }
    if (t->obj != NULL) {
        Py_ssize_t n = ((CDataObject *)t->obj)->size;
        if (offset < 0 || offset > n || size > n - offset) {
            PyErr_Format(PyExc_IndexError, "%s(): offset %zd, size %zd is outside %s (size %zd)", helper, offset,
                         size, Py_TYPE(t->obj)->tp_name, n);
            return -1;
        }
    }
    return 0;
}

static const Py_ssize_t kind_width[KIND__COUNT] = {
    0,
#define X(e, name, ctype, ffitype) sizeof(ctype),
    FASTFFI_SCALAR_KINDS(X)
#undef X
};

/* Store a converted value with the kind's width (endian-independent). */
static void store_scalar(int kind, char *p, const Slot *v)
{
    switch (kind) {
    case KIND_BOOL: case KIND_I8: case KIND_U8: { uint8_t x = (uint8_t)v->u; memcpy(p, &x, 1); break; }
    case KIND_I16: case KIND_U16: { uint16_t x = (uint16_t)v->u; memcpy(p, &x, 2); break; }
    case KIND_I32: case KIND_U32: { uint32_t x = (uint32_t)v->u; memcpy(p, &x, 4); break; }
    case KIND_I64: case KIND_U64: memcpy(p, &v->u, 8); break;
    case KIND_F32: memcpy(p, &v->f, 4); break;
    case KIND_F64: memcpy(p, &v->d, 8); break;
    case KIND_POINTER: case KIND_STRING: memcpy(p, &v->p, sizeof(void *)); break;
    /* two slots, low first (convert_int128) */
    case KIND_I128: case KIND_U128: memcpy(p, v, 16); break;
    case KIND_WSTRING: memcpy(p, &v->p, sizeof(void *)); break;
    }
}

/* c64/c128/longdouble are boxed from a Wide holding their bytes. */
static PyObject *load_wide(int kind, const char *p)
{
    Wide w;
    memset(&w, 0, sizeof(w));
    memcpy(&w, p, (size_t)kind_width[kind]);
    return box_wide(kind, &w);
}

/* Load a value of `kind` into a slot laid out like a register image. */
static void load_scalar(int kind, const char *p, Slot *v)
{
    v->u = 0;
    switch (kind) {
    case KIND_BOOL: case KIND_I8: case KIND_U8: { uint8_t x; memcpy(&x, p, 1); v->u = x; break; }
    case KIND_I16: case KIND_U16: { uint16_t x; memcpy(&x, p, 2); v->u = x; break; }
    case KIND_I32: case KIND_U32: { uint32_t x; memcpy(&x, p, 4); v->u = x; break; }
    case KIND_I64: case KIND_U64: memcpy(&v->u, p, 8); break;
    case KIND_F32: memcpy(&v->f, p, 4); break;
    case KIND_F64: memcpy(&v->d, p, 8); break;
    case KIND_POINTER: case KIND_STRING: memcpy(&v->p, p, sizeof(void *)); break;
    case KIND_I128: case KIND_U128: memcpy(v, p, 16); break;
    case KIND_WSTRING: memcpy(&v->p, p, sizeof(void *)); break;
    }
}

static int scalar_kind_arg(int kind)
{
    if (kind <= KIND_VOID || kind >= KIND_STRUCT) {
        PyErr_Format(PyExc_ValueError, "not a scalar kind: %d", kind);
        return -1;
    }
    return 0;
}

/* read_scalar(ptr, offset, kind) */
static PyObject *mem_read_scalar(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *ptr_obj;
    Py_ssize_t offset;
    int kind;
    Target t;
    if (!PyArg_ParseTuple(args, "Oni", &ptr_obj, &offset, &kind) || scalar_kind_arg(kind) < 0
        || target_arg(ptr_obj, &t) < 0 || check_access("read", &t, offset, kind_width[kind]) < 0)
        return NULL;
    if (kind_is_wide(kind))
        return load_wide(kind, t.p + offset);
    Slot v[2];   /* two for i128/u128 */
    load_scalar(kind, t.p + offset, v);
    return box_scalar(kind, v);
}

/* ---- fastffi.read: the scalar fast path, and Reader ----
 *
 * read(ptr, type_, offset=0) resolved its type in Python at every call
 * (~290 ns); a comparator reading two ints paid that twice per comparison.
 * Python still decides what a type string means: memory.py hands over the
 * default namespace's resolution cache (type text -> type; only ever
 * cleared, never replaced, when a definition changes) and a table of the
 * Scalar types it has seen -> their kind.  A str found in the first whose
 * type is in the second, or a Scalar in the second, is read here with the
 * very checks read_scalar makes; anything else (a struct type, a text not
 * resolved yet, keywords, an offset that is not an int) goes to memory.py's
 * read, which resolves and fills the tables. */
static PyObject *read_resolved, *read_kinds, *read_slow;

static PyObject *read_at(PyObject *ptr_obj, Py_ssize_t offset, int kind)
{
    Target t;
    if (target_arg(ptr_obj, &t) < 0 || check_access("read", &t, offset, kind_width[kind]) < 0)
        return NULL;
    if (kind_is_wide(kind))
        return load_wide(kind, t.p + offset);
    Slot v[2];   /* two for i128/u128 */
    load_scalar(kind, t.p + offset, v);
    return box_scalar(kind, v);
}

/* The last type read and its kind: a loop reads one type over and over, and
 * this saves the second dictionary lookup (~120 instructions).  A type's
 * kind never changes, so the entry needs no invalidation; it holds a
 * reference so the address cannot be reused by another object. */
static PyObject *last_type;
static int last_kind;

/* The kind memory.py recorded for `spec` (a type text or a type), 0 when
 * there is none (the slow path decides), -1 with an exception set. */
static int read_kind(PyObject *spec)
{
    PyObject *t = spec;
    if (PyUnicode_CheckExact(spec)) {
        t = PyDict_GetItemWithError(read_resolved, spec);
        if (t == NULL)
            return PyErr_Occurred() ? -1 : 0;
    }
    if (t == last_type)
        return last_kind;
    PyObject *k = PyDict_GetItemWithError(read_kinds, t);
    if (k == NULL)
        return PyErr_Occurred() ? -1 : 0;
    int kind = (int)PyLong_AsLong(k);   /* a small int memory.py stored */
    Py_XSETREF(last_type, Py_NewRef(t));
    last_kind = kind;
    return kind;
}

static PyObject *mem_read(PyObject *m, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    (void)m;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (read_slow == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "read(): fastffi.memory has not set up the fast path");
        return NULL;
    }
    if (kwnames == NULL && (nargs == 2 || (nargs == 3 && PyLong_CheckExact(args[2])))) {
        int kind = read_kind(args[1]);
        if (kind < 0)
            return NULL;
        if (kind > 0) {
            Py_ssize_t offset = 0;
            if (nargs == 3 && (offset = PyLong_AsSsize_t(args[2])) == -1 && PyErr_Occurred())
                return NULL;
            return read_at(args[0], offset, kind);
        }
    }
    return PyObject_Vectorcall(read_slow, args, nargsf, kwnames);
}

/* read_setup(resolved, kinds, slow): the tables and the fallback above. */
static PyObject *mem_read_setup(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *resolved, *kinds, *slow;
    if (!PyArg_ParseTuple(args, "O!O!O:read_setup", &PyDict_Type, &resolved, &PyDict_Type, &kinds, &slow))
        return NULL;
    Py_XSETREF(read_resolved, Py_NewRef(resolved));
    Py_XSETREF(read_kinds, Py_NewRef(kinds));
    Py_XSETREF(read_slow, Py_NewRef(slow));
    Py_RETURN_NONE;
}

/* reader(type): one scalar type's read with the type resolved once.  The
 * function is an exact builtin (METH_FASTCALL | METH_KEYWORDS) bound to a
 * Reader holding the kind, because CPython 3.11 specialises calls to those
 * only: a plain vectorcall object goes through the generic call path, ~120
 * instructions more per call (docs/design.md, "What a Function is"). */
typedef struct {
    PyObject_HEAD
    int kind;
    PyObject *name;
} ReaderObject;

static PyObject *reader_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    ReaderObject *r = (ReaderObject *)self;
    Py_ssize_t offset = 0;
    PyObject *off = nargs == 2 ? args[1] : NULL;
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) {
        PyObject *kw = PyTuple_GET_ITEM(kwnames, 0);
        if (PyTuple_GET_SIZE(kwnames) > 1 || nargs != 1 || PyUnicode_CompareWithASCIIString(kw, "offset") != 0) {
            PyErr_Format(PyExc_TypeError, "reader(%U)(): takes (ptr, offset=0)", r->name);
            return NULL;
        }
        off = args[1];
    }
    else if (nargs < 1 || nargs > 2) {
        PyErr_Format(PyExc_TypeError, "reader(%U)(): takes (ptr, offset=0), %zd arguments given", r->name, nargs);
        return NULL;
    }
    if (off != NULL) {
        PyObject *index = PyNumber_Index(off);
        if (index == NULL)
            return NULL;
        offset = PyLong_AsSsize_t(index);
        Py_DECREF(index);
        if (offset == -1 && PyErr_Occurred())
            return NULL;
    }
    return read_at(args[0], offset, r->kind);
}

static PyMethodDef reader_def = {
    "read", (PyCFunction)(void (*)(void))reader_call, METH_FASTCALL | METH_KEYWORDS,
    "read(ptr, offset=0)\n--\n\nThe value of this reader's type at ``ptr + offset``, checked as read() checks.",
};

static void reader_dealloc(PyObject *self)
{
    Py_XDECREF(((ReaderObject *)self)->name);
    Py_TYPE(self)->tp_free(self);
}

static PyObject *reader_repr(PyObject *self)
{
    return PyUnicode_FromFormat("<fastffi.Reader %U>", ((ReaderObject *)self)->name);
}

static PyObject *reader_get_type(PyObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(((ReaderObject *)self)->name);
}

static PyGetSetDef reader_getset[] = {
    {"type", reader_get_type, NULL, "The scalar type's canonical name.", NULL},
    {NULL},
};

PyTypeObject Reader_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fastffi.Reader",
    .tp_basicsize = sizeof(ReaderObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "What a reader function is bound to (its __self__): the scalar type it reads.",
    .tp_dealloc = reader_dealloc,
    .tp_repr = reader_repr,
    .tp_getset = reader_getset,
};

/* make_reader(kind, name) -> the builtin read(ptr, offset=0) of that kind. */
static PyObject *mem_make_reader(PyObject *m, PyObject *args)
{
    (void)m;
    int kind;
    PyObject *name;
    if (!PyArg_ParseTuple(args, "iU:make_reader", &kind, &name) || scalar_kind_arg(kind) < 0)
        return NULL;
    ReaderObject *r = PyObject_New(ReaderObject, &Reader_Type);
    if (r == NULL)
        return NULL;
    r->kind = kind;
    r->name = Py_NewRef(name);
    PyObject *f = PyCFunction_NewEx(&reader_def, (PyObject *)r, NULL);
    Py_DECREF(r);
    return f;
}

/* The object to keep alive for a pointer value stored into a fastffi object,
 * and the address to store: bytes and CData as they are, a str (`string`
 * only) encoded to a fresh bytes, any other buffer as a memoryview -- the
 * export it holds stops a bytearray from being resized away under the
 * pointer.  *keep is NULL for ints and None.  -1 on error. */
static int pointer_to_keep(int kind, PyObject *value, PyObject *context, Slot *v, PyObject **keep)
{
    *keep = NULL;
    if (kind == KIND_STRING && PyUnicode_Check(value)) {
        PyObject *b = PyUnicode_AsEncodedString(value, "utf-8", "surrogateescape");
        if (b == NULL)
            return -1;
        if (memchr(PyBytes_AS_STRING(b), '\0', (size_t)PyBytes_GET_SIZE(b)) != NULL) {
            Py_DECREF(b);
            PyErr_Format(PyExc_ValueError, "%U: embedded null character", context);
            return -1;
        }
        v->p = PyBytes_AS_STRING(b);
        *keep = b;
        return 0;
    }
    if (kind == KIND_WSTRING && PyUnicode_Check(value)) {   /* the copy lives with the memory */
        PyObject *copy = wstring_copy(value, (ErrCtx){context, 0});
        if (copy == NULL)
            return -1;
        v->p = PyByteArray_AS_STRING(copy);
        *keep = copy;
        return 0;
    }
    BufferEntry view;
    BufferList bufs = {&view, 0};
    if (convert_scalar(kind, value, v, &bufs, (ErrCtx){context, 0}) < 0)
        return -1;
    int was_buffer = bufs.count > 0;
    buffers_release(&bufs);
    if (PyBytes_CheckExact(value) || CData_Check(value) || Function_Check(value) || Callback_Check(value)) {
        /* A Callback lives as long as the memory holding its address: C
         * may call through it whenever it reads the pointer. */
        *keep = Py_NewRef(value);
    }
    else if (was_buffer) {
        /* The converter checked the buffer; hold an export of our own and
         * store the address it gives (an exporter may move its data between
         * exports only when none is held). */
        PyObject *mv = PyMemoryView_FromObject(value);
        if (mv == NULL)
            return -1;
        v->p = PyMemoryView_GET_BUFFER(mv)->buf;
        *keep = mv;
    }
    return 0;
}

/* write_scalar(ptr, offset, kind, value, context)  -- context names the
 * destination in messages ("write()", "Point.x"). */
static PyObject *mem_write_scalar(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *ptr_obj, *value, *context;
    Py_ssize_t offset;
    int kind;
    Target t;
    if (!PyArg_ParseTuple(args, "OniOU", &ptr_obj, &offset, &kind, &value, &context) || scalar_kind_arg(kind) < 0
        || target_arg(ptr_obj, &t) < 0 || check_access("write", &t, offset, kind_width[kind]) < 0)
        return NULL;
    if (kind_is_wide(kind)) {
        Wide w;
        if (convert_wide(kind, value, &w, (ErrCtx){context, 0}) < 0)
            return NULL;
        memcpy(t.p + offset, &w, (size_t)kind_width[kind]);
        Py_RETURN_NONE;
    }
    Slot v[2];   /* two for i128/u128 */
    if (kind == KIND_POINTER || kind == KIND_STRING || kind == KIND_WSTRING) {
        if (t.obj == NULL) {
            /* Raw memory keeps nothing alive: a str's encoding would die
             * with this call, so it is refused; a buffer's address stays
             * valid as long as the caller keeps the object. */
            if ((kind == KIND_STRING || kind == KIND_WSTRING) && PyUnicode_Check(value)) {
                PyErr_Format(PyExc_TypeError, "%U: cannot store a str as a %U pointer at a raw address "
                             "(it would dangle); pass bytes you keep alive, or an address", context,
                             kind_name(kind));
                return NULL;
            }
            BufferEntry view;
            BufferList bufs = {&view, 0};
            if (convert_scalar(kind, value, v, &bufs, (ErrCtx){context, 0}) < 0)
                return NULL;
            buffers_release(&bufs);
        }
        else {
            PyObject *keep;
            if (pointer_to_keep(kind, value, context, v, &keep) < 0)
                return NULL;
            int rc = cdata_keep(t.obj, t.p + offset, keep);
            Py_XDECREF(keep);
            if (rc < 0)
                return NULL;
        }
    }
    else if (convert_scalar(kind, value, v, NULL, (ErrCtx){context, 0}) < 0) {
        return NULL;
    }
    store_scalar(kind, t.p + offset, v);
    Py_RETURN_NONE;
}

static PyObject *mem_address_of(PyObject *m, PyObject *o)
{
    (void)m;
    if (CData_Check(o))
        return PyLong_FromVoidPtr(((CDataObject *)o)->ptr);
    if (Function_Check(o))
        return PyLong_FromVoidPtr((void *)((FunctionObject *)o)->target);
    if (Callback_Check(o))
        return PyLong_FromVoidPtr(((CallbackObject *)o)->address);
    if (PyObject_CheckBuffer(o)) {
        Py_buffer view;
        if (PyObject_GetBuffer(o, &view, PyBUF_FULL_RO) < 0)
            return NULL;
        PyObject *r = PyLong_FromVoidPtr(view.buf);
        PyBuffer_Release(&view);
        return r;
    }
    PyErr_Format(PyExc_TypeError, "address_of() expected a buffer, struct, array, box or Function, got %s",
                 Py_TYPE(o)->tp_name);
    return NULL;
}

static PyObject *mem_to_bytes(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *ptr_obj;
    Py_ssize_t size;
    Target t;
    if (!PyArg_ParseTuple(args, "On", &ptr_obj, &size) || target_arg(ptr_obj, &t) < 0
        || check_access("to_bytes", &t, 0, size) < 0)
        return NULL;
    return PyBytes_FromStringAndSize(size ? t.p : "", size);
}

/* A view of a fastffi object is made from the object's own export, so it
 * keeps the object alive; a raw address's view keeps nothing. */
static PyObject *mem_view(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *ptr_obj;
    Py_ssize_t size;
    int readonly;
    Target t;
    static char empty[1];
    if (!PyArg_ParseTuple(args, "Onp", &ptr_obj, &size, &readonly) || target_arg(ptr_obj, &t) < 0
        || check_access("view", &t, 0, size) < 0)
        return NULL;
    if (t.obj == NULL)
        return PyMemoryView_FromMemory(size ? t.p : empty, size, readonly ? PyBUF_READ : PyBUF_WRITE);
    PyObject *whole = PyMemoryView_FromObject(t.obj);
    if (whole == NULL)
        return NULL;
    PyObject *bytes = PyObject_CallMethod(whole, "cast", "s", "B");
    Py_DECREF(whole);
    if (bytes == NULL)
        return NULL;
    PyObject *part = PySequence_GetSlice(bytes, 0, size);
    Py_DECREF(bytes);
    if (part == NULL || !readonly)
        return part;
    PyObject *ro = PyObject_CallMethod(part, "toreadonly", NULL);
    Py_DECREF(part);
    return ro;
}

/* to_bytes up to the first NUL, or at most `limit` bytes when limit >= 0.
 * In a fastffi object the scan stops at its end: reaching it without a NUL
 * (and with the limit further on) is an IndexError, never a read past it. */
static PyObject *mem_c_string(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *ptr_obj;
    Py_ssize_t limit;
    Target t;
    if (!PyArg_ParseTuple(args, "On", &ptr_obj, &limit) || target_arg(ptr_obj, &t) < 0
        || check_access("to_string", &t, 0, limit == 0 ? 0 : 1) < 0)
        return NULL;
    if (limit == 0)
        return PyBytes_FromStringAndSize("", 0);
    size_t n;
    if (t.obj != NULL) {
        size_t avail = (size_t)((CDataObject *)t.obj)->size;
        size_t cap = (limit >= 0 && (size_t)limit < avail) ? (size_t)limit : avail;
        n = strnlen(t.p, cap);
        if (n == avail && (limit < 0 || (size_t)limit > avail)) {
            PyErr_Format(PyExc_IndexError, "to_string(): no null terminator within %s (size %zd)",
                         Py_TYPE(t.obj)->tp_name, (Py_ssize_t)avail);
            return NULL;
        }
    }
    else {
        n = limit < 0 ? strlen(t.p) : strnlen(t.p, (size_t)limit);
    }
    return PyBytes_FromStringAndSize(t.p, (Py_ssize_t)n);
}

/* write_bytes(ptr, data, offset=0) */
static PyObject *mem_write_bytes(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *ptr_obj;
    Py_buffer data;
    Py_ssize_t offset = 0;
    Target t;
    if (!PyArg_ParseTuple(args, "Oy*|n", &ptr_obj, &data, &offset))
        return NULL;
    if (target_arg(ptr_obj, &t) < 0 || check_access("write_bytes", &t, offset, data.len) < 0
        || cdata_keep_copy(t.obj, t.p + offset, NULL, NULL, data.len) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    if (data.len)
        memmove(t.p + offset, data.buf, (size_t)data.len);
    PyBuffer_Release(&data);
    Py_RETURN_NONE;
}

/* copy(dst, src, size, dst_offset=0, src_offset=0, helper="copy"): both
 * ends checked like any helper's; what the source kept alive for pointers
 * in the copied bytes is kept by the destination too. */
static PyObject *mem_copy(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *dst_obj, *src_obj;
    Py_ssize_t size, dst_off = 0, src_off = 0;
    const char *helper = "copy";
    Target dst, src;
    if (!PyArg_ParseTuple(args, "OOn|nns", &dst_obj, &src_obj, &size, &dst_off, &src_off, &helper)
        || target_arg(dst_obj, &dst) < 0 || target_arg(src_obj, &src) < 0
        || check_access(helper, &dst, dst_off, size) < 0 || check_access(helper, &src, src_off, size) < 0
        || cdata_keep_copy(dst.obj, dst.p + dst_off, src.obj, src.p + src_off, size) < 0)
        return NULL;
    if (size)
        memmove(dst.p + dst_off, src.p + src_off, (size_t)size);
    Py_RETURN_NONE;
}

static PyObject *mem_get_errno(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    return PyLong_FromLong(fastffi_saved_errno);
}

static PyObject *mem_set_errno(PyObject *m, PyObject *arg)
{
    (void)m;
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred())
        return NULL;
    if (v < INT_MIN || v > INT_MAX) {
        PyErr_Format(PyExc_OverflowError, "%R does not fit errno (a C int)", arg);
        return NULL;
    }
    int old = fastffi_saved_errno;
    fastffi_saved_errno = (int)v;
    return PyLong_FromLong(old);
}

PyMethodDef memory_methods[] = {
    {"read_scalar", mem_read_scalar, METH_VARARGS, "read_scalar(ptr, offset, kind)"},
    {"read", (PyCFunction)(void (*)(void))mem_read, METH_FASTCALL | METH_KEYWORDS,
     "read(ptr, type_, offset=0)\n--\n\n"
     "The value of ``type_`` at ``ptr + offset`` (a struct type gives a copy)."},
    {"read_setup", mem_read_setup, METH_VARARGS, "read_setup(resolved, kinds, slow): read()'s tables"},
    {"make_reader", mem_make_reader, METH_VARARGS, "make_reader(kind, name) -> read(ptr, offset=0) of that kind"},
    {"write_scalar", mem_write_scalar, METH_VARARGS, "write_scalar(ptr, offset, kind, value, context)"},
    {"address_of", mem_address_of, METH_O, "Address of a buffer, struct, array, box or Function."},
    {"to_bytes", mem_to_bytes, METH_VARARGS, "to_bytes(ptr, size) -> bytes (a copy)"},
    {"view", mem_view, METH_VARARGS, "view(ptr, size, readonly) -> memoryview (zero-copy)"},
    {"c_string", mem_c_string, METH_VARARGS, "c_string(ptr, limit) -> bytes up to the first NUL"},
    {"write_bytes", mem_write_bytes, METH_VARARGS, "write_bytes(ptr, data, offset=0)"},
    {"copy", mem_copy, METH_VARARGS, "copy(dst, src, size, dst_offset=0, src_offset=0, helper='copy')"},
    {"get_errno", mem_get_errno, METH_NOARGS, "This thread's errno copy."},
    {"set_errno", mem_set_errno, METH_O, "Set this thread's errno copy; returns the old value."},
    {NULL},
};
