/* CData: a run of bytes seen from Python.  Struct, union, array and box
 * instances are Python subclasses of it; it owns or borrows the memory and
 * exports it through the buffer protocol, zero-copy. */
#include "core.h"

/* Owned memory is rounded up to 16 bytes so a by-value return written by a
 * tier that stores whole registers never writes past the end. */
static Py_ssize_t alloc_size(Py_ssize_t size)
{
    return size < 16 ? 16 : (size + 15) & ~(Py_ssize_t)15;
}

static CDataObject *cdata_new_raw(PyTypeObject *cls)
{
    CDataObject *self = (CDataObject *)cls->tp_alloc(cls, 0);
    if (self == NULL)
        return NULL;
    self->itemsize = 1;
    strcpy(self->format, "B");
    return self;
}

PyObject *cdata_alloc(PyTypeObject *cls, Py_ssize_t size)
{
    CDataObject *self = cdata_new_raw(cls);
    if (self == NULL)
        return NULL;
    self->ptr = PyMem_Calloc(1, (size_t)alloc_size(size));
    if (self->ptr == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->owns = 1;
    self->size = size;
    return (PyObject *)self;
}

static PyObject *size_of_class(PyTypeObject *cls)
{
    return PyObject_GetAttrString((PyObject *)cls, "_size_");
}

/* CData.__new__(cls, *args, **kwargs): zeroed memory of cls._size_ bytes;
 * field initialisation is the subclass's __init__. */
static PyObject *cdata_tp_new(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
    (void)args;
    (void)kwargs;
    PyObject *size_obj = size_of_class(cls);
    if (size_obj == NULL)
        return NULL;
    Py_ssize_t size = PyLong_AsSsize_t(size_obj);
    Py_DECREF(size_obj);
    if (size < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "negative size");
        return NULL;
    }
    return cdata_alloc(cls, size);
}

static void cdata_dealloc(CDataObject *self)
{
    if (self->owns)
        PyMem_Free(self->ptr);
    Py_XDECREF(self->owner);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int cdata_getbuffer(CDataObject *self, Py_buffer *view, int flags)
{
    if (PyBuffer_FillInfo(view, (PyObject *)self, self->ptr, self->size, 0, flags) < 0)
        return -1;
    if (flags & PyBUF_FORMAT)
        view->format = self->format;
    if (self->itemsize != 1) {
        view->itemsize = self->itemsize;
        /* One dimension of size / itemsize elements; shape and strides
         * point into the exporter, which the view keeps alive. */
        self->nitems = self->size / self->itemsize;
        if (flags & PyBUF_ND)
            view->shape = &self->nitems;
        if ((flags & PyBUF_STRIDES) == PyBUF_STRIDES)
            view->strides = &view->itemsize;
    }
    return 0;
}

static PyBufferProcs cdata_as_buffer = {
    .bf_getbuffer = (getbufferproc)cdata_getbuffer,
};

/* _core.CData._view(cls, address, size, owner=None, format="B", itemsize=1)
 * A non-owning instance over existing memory; `owner` is kept alive. */
static PyObject *cdata_view(PyObject *module, PyObject *args)
{
    (void)module;
    PyTypeObject *cls;
    PyObject *address, *owner = Py_None;
    Py_ssize_t size, itemsize = 1;
    const char *format = "B";
    if (!PyArg_ParseTuple(args, "O!On|Osn", &PyType_Type, &cls, &address, &size, &owner, &format, &itemsize))
        return NULL;
    if (!PyType_IsSubtype(cls, &CData_Type)) {
        PyErr_SetString(PyExc_TypeError, "not a CData class");
        return NULL;
    }
    char *ptr;
    if (CData_Check(address)) {
        ptr = ((CDataObject *)address)->ptr;
    }
    else {
        ptr = (char *)PyLong_AsVoidPtr(address);
        if (ptr == NULL && PyErr_Occurred())
            return NULL;
    }
    if (strlen(format) >= sizeof(((CDataObject *)0)->format) || itemsize <= 0) {
        PyErr_SetString(PyExc_ValueError, "bad buffer format");
        return NULL;
    }
    CDataObject *self = cdata_new_raw(cls);
    if (self == NULL)
        return NULL;
    self->ptr = ptr;
    self->size = size;
    self->itemsize = itemsize;
    strcpy(self->format, format);
    if (owner != Py_None) {
        Py_INCREF(owner);
        self->owner = owner;
    }
    return (PyObject *)self;
}

/* _core.cdata_alloc(cls, size, format="B", itemsize=1): owned, zeroed. */
static PyObject *cdata_alloc_py(PyObject *module, PyObject *args)
{
    (void)module;
    PyTypeObject *cls;
    Py_ssize_t size, itemsize = 1;
    const char *format = "B";
    if (!PyArg_ParseTuple(args, "O!n|sn", &PyType_Type, &cls, &size, &format, &itemsize))
        return NULL;
    if (!PyType_IsSubtype(cls, &CData_Type) || size < 0 || itemsize <= 0
        || strlen(format) >= sizeof(((CDataObject *)0)->format)) {
        PyErr_SetString(PyExc_ValueError, "bad CData allocation");
        return NULL;
    }
    CDataObject *self = (CDataObject *)cdata_alloc(cls, size);
    if (self == NULL)
        return NULL;
    self->itemsize = itemsize;
    strcpy(self->format, format);
    return (PyObject *)self;
}

static PyObject *cdata_get_address(CDataObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromVoidPtr(self->ptr);
}

static PyObject *cdata_get_nbytes(CDataObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(self->size);
}

static PyObject *cdata_get_base(CDataObject *self, void *closure)
{
    (void)closure;
    PyObject *owner = self->owner ? self->owner : Py_None;
    Py_INCREF(owner);
    return owner;
}

static PyGetSetDef cdata_getset[] = {
    {"_address_", (getter)cdata_get_address, NULL, "address of the first byte", NULL},
    {"_nbytes_", (getter)cdata_get_nbytes, NULL, "size in bytes", NULL},
    {"_base_", (getter)cdata_get_base, NULL, "the object whose memory this views, or None", NULL},
    {NULL},
};

PyTypeObject CData_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fastffi._core.CData",
    .tp_basicsize = sizeof(CDataObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Memory seen from Python: the base of struct, union, array and box types.",
    .tp_new = cdata_tp_new,
    .tp_dealloc = (destructor)cdata_dealloc,
    .tp_as_buffer = &cdata_as_buffer,
    .tp_getset = cdata_getset,
};

PyMethodDef cdata_methods[] = {
    {"cdata_view", cdata_view, METH_VARARGS, "A non-owning CData instance over existing memory."},
    {"cdata_alloc", cdata_alloc_py, METH_VARARGS, "A CData instance owning zeroed memory."},
    {NULL},
};
