/* Raw memory helpers (parity with node:ffi's): reading and writing typed
 * values at addresses, copying bytes out, zero-copy views.  Addresses that are
 * not NULL cannot be checked -- a wrong one crashes, as in C; NULL is refused
 * whenever bytes would be touched. */
#include "runtime/convert.h"

_Thread_local int fastffi_saved_errno;

/* ptr argument: an int address, None (NULL), or a CData instance. */
static int address_arg(PyObject *o, char **out)
{
    if (o == Py_None) {
        *out = NULL;
        return 0;
    }
    if (CData_Check(o)) {
        *out = ((CDataObject *)o)->ptr;
        return 0;
    }
    if (PyLong_Check(o)) {
        if (compat_long_sign(o) < 0) {
            PyErr_Format(PyExc_OverflowError, "%R does not fit pointer", o);
            return -1;
        }
        *out = (char *)PyLong_AsVoidPtr(o);
        return (*out == NULL && PyErr_Occurred()) ? -1 : 0;
    }
    PyErr_Format(PyExc_TypeError, "expected an address (int), None or a fastffi struct/array/box, got %s",
                 Py_TYPE(o)->tp_name);
    return -1;
}

static int check_not_null(const char *helper, char *p, Py_ssize_t size)
{
    if (p == NULL && size > 0) {
        PyErr_Format(PyExc_ValueError, "%s(): NULL pointer", helper);
        return -1;
    }
    if (size < 0) {
        PyErr_Format(PyExc_ValueError, "%s(): negative size", helper);
        return -1;
    }
    return 0;
}

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
    }
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
    char *p;
    if (!PyArg_ParseTuple(args, "Oni", &ptr_obj, &offset, &kind) || scalar_kind_arg(kind) < 0
        || address_arg(ptr_obj, &p) < 0 || check_not_null("read", p, 1) < 0)
        return NULL;
    Slot v;
    load_scalar(kind, p + offset, &v);
    return box_scalar(kind, &v);
}

/* write_scalar(ptr, offset, kind, value, context)  -- context names the
 * destination in messages ("write()", "Point.x"). */
static PyObject *mem_write_scalar(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *ptr_obj, *value, *context;
    Py_ssize_t offset;
    int kind;
    char *p;
    if (!PyArg_ParseTuple(args, "OniOU", &ptr_obj, &offset, &kind, &value, &context) || scalar_kind_arg(kind) < 0
        || address_arg(ptr_obj, &p) < 0 || check_not_null("write", p, 1) < 0)
        return NULL;
    Slot v;
    Py_buffer view;
    BufferList bufs = {&view, 0};
    if (kind == KIND_STRING && PyUnicode_Check(value)) {
        /* A str's UTF-8 lives only as long as the str: storing its address in
         * memory that outlives this call would dangle. */
        PyErr_Format(PyExc_TypeError, "%U: cannot store a str as a string pointer (it would dangle); "
                     "pass bytes you keep alive, or an address", context);
        return NULL;
    }
    if (convert_scalar(kind, value, &v, &bufs, (ErrCtx){context, 0}) < 0)
        return NULL;
    /* A buffer's address stays valid as long as the caller keeps the object;
     * the export itself is not held. */
    buffers_release(&bufs);
    store_scalar(kind, p + offset, &v);
    Py_RETURN_NONE;
}

static PyObject *mem_address_of(PyObject *m, PyObject *o)
{
    (void)m;
    if (CData_Check(o))
        return PyLong_FromVoidPtr(((CDataObject *)o)->ptr);
    if (Function_Check(o))
        return PyLong_FromVoidPtr((void *)((FunctionObject *)o)->target);
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
    char *p;
    if (!PyArg_ParseTuple(args, "On", &ptr_obj, &size) || address_arg(ptr_obj, &p) < 0
        || check_not_null("to_bytes", p, size) < 0)
        return NULL;
    return PyBytes_FromStringAndSize(size ? p : "", size);
}

static PyObject *mem_view(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *ptr_obj;
    Py_ssize_t size;
    int readonly;
    char *p;
    static char empty[1];
    if (!PyArg_ParseTuple(args, "Onp", &ptr_obj, &size, &readonly) || address_arg(ptr_obj, &p) < 0
        || check_not_null("view", p, size) < 0)
        return NULL;
    return PyMemoryView_FromMemory(size ? p : empty, size, readonly ? PyBUF_READ : PyBUF_WRITE);
}

/* to_bytes up to the first NUL, or at most `limit` bytes when limit >= 0. */
static PyObject *mem_c_string(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *ptr_obj;
    Py_ssize_t limit;
    char *p;
    if (!PyArg_ParseTuple(args, "On", &ptr_obj, &limit) || address_arg(ptr_obj, &p) < 0
        || check_not_null("to_string", p, limit == 0 ? 0 : 1) < 0)
        return NULL;
    if (limit == 0)
        return PyBytes_FromStringAndSize("", 0);
    size_t n = limit < 0 ? strlen(p) : strnlen(p, (size_t)limit);
    return PyBytes_FromStringAndSize(p, (Py_ssize_t)n);
}

static PyObject *mem_write_bytes(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *ptr_obj;
    Py_buffer data;
    char *p;
    if (!PyArg_ParseTuple(args, "Oy*", &ptr_obj, &data))
        return NULL;
    if (address_arg(ptr_obj, &p) < 0 || check_not_null("write_bytes", p, data.len) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    if (data.len)
        memmove(p, data.buf, (size_t)data.len);
    PyBuffer_Release(&data);
    Py_RETURN_NONE;
}

static PyObject *mem_copy(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *dst_obj, *src_obj;
    Py_ssize_t size;
    char *dst, *src;
    if (!PyArg_ParseTuple(args, "OOn", &dst_obj, &src_obj, &size) || address_arg(dst_obj, &dst) < 0
        || address_arg(src_obj, &src) < 0 || check_not_null("copy", dst, size) < 0
        || check_not_null("copy", src, size) < 0)
        return NULL;
    if (size)
        memmove(dst, src, (size_t)size);
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
    {"write_scalar", mem_write_scalar, METH_VARARGS, "write_scalar(ptr, offset, kind, value, context)"},
    {"address_of", mem_address_of, METH_O, "Address of a buffer, struct, array, box or Function."},
    {"to_bytes", mem_to_bytes, METH_VARARGS, "to_bytes(ptr, size) -> bytes (a copy)"},
    {"view", mem_view, METH_VARARGS, "view(ptr, size, readonly) -> memoryview (zero-copy)"},
    {"c_string", mem_c_string, METH_VARARGS, "c_string(ptr, limit) -> bytes up to the first NUL"},
    {"write_bytes", mem_write_bytes, METH_VARARGS, "write_bytes(ptr, data)"},
    {"copy", mem_copy, METH_VARARGS, "copy(dst, src, size)"},
    {"get_errno", mem_get_errno, METH_NOARGS, "This thread's errno copy."},
    {"set_errno", mem_set_errno, METH_O, "Set this thread's errno copy; returns the old value."},
    {NULL},
};
