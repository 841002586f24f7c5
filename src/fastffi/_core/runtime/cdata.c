/* CData: a run of bytes seen from Python.  Struct, union, array and box
 * instances are Python subclasses of it; it owns or borrows the memory and
 * exports it through the buffer protocol, zero-copy.
 *
 * A pointer stored into that memory from a Python object (bytes, a buffer,
 * another CData, a str encoded for a `string` field) would dangle once the
 * object died, so the object is kept, as ctypes keeps it in `_objects`: in
 * one dict per *root* -- the CData that owns the memory, or the outermost view
 * of foreign memory -- keyed by the pointer's address.  A nested field's view
 * dies long before the struct, so it keeps nothing itself.  Overwriting the
 * pointer replaces the entry; a struct copied over another carries its
 * entries along.  The dict and `owner` can form cycles (a struct holding a
 * pointer to its own field), so CData is GC-tracked. */
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
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->keep);
    if (self->owns)
        PyMem_Free(self->ptr);
    Py_CLEAR(self->owner);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int cdata_traverse(CDataObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->owner);
    Py_VISIT(self->keep);
    /* Not the type: a Python subclass's subtype_traverse visits it before
     * calling this (CPython's typeobject.c), and CData_Type is static. */
    return 0;
}

/* Only `keep` is cleared: `ptr` may point into `owner`, and the collector
 * may still let other members of the cycle reach this object before it is
 * freed.  Every cycle through `owner` also passes through a `keep` dict or an
 * object that is not a CData (a memoryview, a user's exporter), and those
 * clear themselves. */
static int cdata_clear(CDataObject *self)
{
    Py_CLEAR(self->keep);
    return 0;
}

/* The CData whose `keep` dict holds what pointers stored in `o` point to. */
static CDataObject *cdata_root(PyObject *o)
{
    CDataObject *c = (CDataObject *)o;
    while (c->owner != NULL && CData_Check(c->owner))
        c = (CDataObject *)c->owner;
    return c;
}

int cdata_keep(PyObject *cdata, char *addr, PyObject *obj)
{
    CDataObject *root = cdata_root(cdata);
    if (obj == NULL && root->keep == NULL)
        return 0;
    PyObject *key = PyLong_FromVoidPtr(addr);
    if (key == NULL)
        return -1;
    int rc;
    if (obj == NULL) {
        rc = PyDict_DelItem(root->keep, key);
        if (rc < 0 && PyErr_ExceptionMatches(PyExc_KeyError)) {
            PyErr_Clear();
            rc = 0;
        }
    }
    else {
        if (root->keep == NULL && (root->keep = PyDict_New()) == NULL) {
            Py_DECREF(key);
            return -1;
        }
        rc = PyDict_SetItem(root->keep, key, obj);
    }
    Py_DECREF(key);
    return rc;
}

/* Entries of `keep` whose address lies in [lo, lo+n), as a list of
 * (address int, object) tuples; an empty list when there are none. */
static PyObject *keep_entries(PyObject *keep, const char *lo, Py_ssize_t n)
{
    PyObject *out = PyList_New(0);
    if (out == NULL || keep == NULL)
        return out;
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(keep, &pos, &key, &value)) {
        const char *a = (const char *)PyLong_AsVoidPtr(key);
        if (a == NULL && PyErr_Occurred())
            goto fail;
        if (a >= lo && a < lo + n) {
            PyObject *pair = PyTuple_Pack(2, key, value);
            if (pair == NULL || PyList_Append(out, pair) < 0) {
                Py_XDECREF(pair);
                goto fail;
            }
            Py_DECREF(pair);
        }
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

int cdata_keep_copy(PyObject *dst_obj, char *dst, PyObject *src_obj, const char *src, Py_ssize_t n)
{
    if (dst_obj == NULL || !CData_Check(dst_obj) || n <= 0)
        return 0;
    CDataObject *droot = cdata_root(dst_obj);
    PyObject *skeep = (src_obj != NULL && CData_Check(src_obj)) ? cdata_root(src_obj)->keep : NULL;
    if (droot->keep == NULL && skeep == NULL)
        return 0;
    /* Read the source's entries before touching the destination's: the two
     * may be one dict, and the ranges may overlap. */
    PyObject *incoming = keep_entries(skeep, src, n);
    PyObject *stale = incoming ? keep_entries(droot->keep, dst, n) : NULL;
    if (stale == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(stale); i++)
        if (PyDict_DelItem(droot->keep, PyTuple_GET_ITEM(PyList_GET_ITEM(stale, i), 0)) < 0)
            goto fail;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(incoming); i++) {
        PyObject *pair = PyList_GET_ITEM(incoming, i);
        const char *a = (const char *)PyLong_AsVoidPtr(PyTuple_GET_ITEM(pair, 0));
        if (cdata_keep(dst_obj, dst + (a - src), PyTuple_GET_ITEM(pair, 1)) < 0)
            goto fail;
    }
    Py_DECREF(incoming);
    Py_DECREF(stale);
    return 0;
fail:
    Py_XDECREF(incoming);
    Py_XDECREF(stale);
    return -1;
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

static PyObject *cdata_get_owns(CDataObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->owns);
}

/* A snapshot of what this object's memory keeps alive (for tests and
 * debugging; the root holds the dict). */
static PyObject *cdata_get_objects(CDataObject *self, void *closure)
{
    (void)closure;
    CDataObject *root = cdata_root((PyObject *)self);
    return root->keep ? PyDict_Copy(root->keep) : PyDict_New();
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
    {"_owns_", (getter)cdata_get_owns, NULL, "whether this object allocated its memory (and frees it)", NULL},
    {"_objects_", (getter)cdata_get_objects, NULL,
     "{address: object} kept alive for pointers stored in this memory (a copy)", NULL},
    {NULL},
};

PyTypeObject CData_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fastffi._core.CData",
    .tp_basicsize = sizeof(CDataObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Memory seen from Python: the base of struct, union, array and box types.",
    .tp_new = cdata_tp_new,
    .tp_dealloc = (destructor)cdata_dealloc,
    .tp_traverse = (traverseproc)cdata_traverse,
    .tp_clear = (inquiry)cdata_clear,
    .tp_free = PyObject_GC_Del,
    .tp_as_buffer = &cdata_as_buffer,
    .tp_getset = cdata_getset,
};

PyMethodDef cdata_methods[] = {
    {"cdata_view", cdata_view, METH_VARARGS, "A non-owning CData instance over existing memory."},
    {"cdata_alloc", cdata_alloc_py, METH_VARARGS, "A CData instance owning zeroed memory."},
    {NULL},
};
