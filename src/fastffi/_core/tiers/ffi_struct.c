/* libffi descriptions of struct types, for the libffi tier.
 *
 * The Python side flattens a struct into its element list, arrays expanded
 * element by element: libffi has no array type, and describing `float v[3]`
 * as one opaque blob is the classic ctypes bug that misclassifies it.  What
 * libffi cannot describe at all (unions, misaligned packed fields) never
 * reaches here: fastffi.tiers refuses it with the reason. */
#include "core.h"

/* The libffi type of each scalar kind (and void), from the kinds' one list. */
ffi_type *const ffi_kind_types[KIND__COUNT] = {
    [KIND_VOID] = &ffi_type_void,
#define X(e, name, ctype, ffitype) [KIND_##e] = &ffitype,
    FASTFFI_SCALAR_KINDS(X)
#undef X
};

ffi_type *ffi_kind_type(int kind, PyObject *struct_desc)
{
    /* the placeholder in kinds.h is never handed to libffi (the
     * Python side refuses first; this is the C core's own guard). */
    if (kind_is_int128(kind)) {
        PyErr_SetString(SignatureError, "libffi has no __int128 type");
        return NULL;
    }
    return kind == KIND_STRUCT ? ffi_struct_type_get(struct_desc) : ffi_kind_types[kind];
}

typedef struct {
    PyObject_HEAD
    ffi_type type;
    ffi_type **elements;   /* NULL-terminated */
    PyObject *children;    /* keeps nested FFIStructType objects alive */
} FFIStructTypeObject;

/* FFIStructType(elements): each element is a kind code (int) or a nested
 * FFIStructType. */
static PyObject *ffistruct_new(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
    PyObject *elements;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "FFIStructType takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O!", &PyTuple_Type, &elements))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(elements);
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "libffi cannot describe an empty struct");
        return NULL;
    }
    FFIStructTypeObject *self = (FFIStructTypeObject *)cls->tp_alloc(cls, 0);
    if (self == NULL)
        return NULL;
    self->elements = PyMem_Calloc((size_t)n + 1, sizeof(ffi_type *));
    if (self->elements == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    Py_INCREF(elements);
    self->children = elements;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PyTuple_GET_ITEM(elements, i);
        if (Py_TYPE(e) == &FFIStructType_Type) {
            self->elements[i] = &((FFIStructTypeObject *)e)->type;
            continue;
        }
        long kind = PyLong_AsLong(e);
        if (kind == -1 && PyErr_Occurred()) {
            Py_DECREF(self);
            return NULL;
        }
        if (kind <= KIND_VOID || kind >= KIND_STRUCT || kind_is_int128((int)kind)) {
            PyErr_Format(PyExc_ValueError, "bad element kind %ld", kind);
            Py_DECREF(self);
            return NULL;
        }
        self->elements[i] = ffi_kind_types[kind];
    }
    self->type.size = 0;
    self->type.alignment = 0;
    self->type.type = FFI_TYPE_STRUCT;
    self->type.elements = self->elements;
    /* Computes size and alignment by libffi's own rules, so Python can check
     * them against the layout it computed before trusting this description. */
    if (ffi_get_struct_offsets(FFI_DEFAULT_ABI, &self->type, NULL) != FFI_OK) {
        PyErr_SetString(PyExc_ValueError, "libffi rejected the struct description");
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void ffistruct_dealloc(FFIStructTypeObject *self)
{
    PyMem_Free(self->elements);
    Py_XDECREF(self->children);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *ffistruct_get_size(FFIStructTypeObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSize_t(self->type.size);
}

static PyObject *ffistruct_get_alignment(FFIStructTypeObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLong(self->type.alignment);
}

static PyGetSetDef ffistruct_getset[] = {
    {"size", (getter)ffistruct_get_size, NULL, "size by libffi's rules", NULL},
    {"alignment", (getter)ffistruct_get_alignment, NULL, "alignment by libffi's rules", NULL},
    {NULL},
};

PyTypeObject FFIStructType_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fastffi._core.FFIStructType",
    .tp_basicsize = sizeof(FFIStructTypeObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A libffi struct type built from a flat element list.",
    .tp_new = ffistruct_new,
    .tp_dealloc = (destructor)ffistruct_dealloc,
    .tp_getset = ffistruct_getset,
};

ffi_type *ffi_struct_type_get(PyObject *obj)
{
    if (Py_TYPE(obj) != &FFIStructType_Type) {
        PyErr_SetString(PyExc_TypeError, "expected an FFIStructType for a struct argument");
        return NULL;
    }
    return &((FFIStructTypeObject *)obj)->type;
}
