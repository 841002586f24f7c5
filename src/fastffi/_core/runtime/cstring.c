/* CString: what a non-const `char *` result is returned as -- a str (equal
 * to, hashing as, and passing anywhere a str does) that also carries the
 * address C returned, so memory the callee allocated (strdup, realpath(p,
 * NULL), sqlite3_mprintf) can be handed back to its deallocator.
 *
 * A str subclass made by CPython's own str.__new__ path (unicode_subtype_new
 * copies the text into a fixed-size PyUnicodeObject with a separate data
 * block), so the address fits after the str's fields: no __dict__, nothing
 * to track. */
#include "core.h"

#include "runtime/convert.h"

typedef struct {
    PyUnicodeObject text;
    void *address;
} CStringObject;

/* An instance of `cls` (CString or a subclass) with the text of `text` and
 * `address`, through str.__new__ (see above). */
static PyObject *cstring_make(PyTypeObject *cls, PyObject *text, void *address)
{
    PyObject *args = PyTuple_Pack(1, text);
    if (args == NULL)
        return NULL;
    PyObject *o = PyUnicode_Type.tp_new(cls, args, NULL);
    Py_DECREF(args);
    if (o != NULL)
        ((CStringObject *)o)->address = address;
    return o;
}

PyObject *cstring_from(const char *s)
{
    PyObject *text = PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape");
    if (text == NULL)
        return NULL;
    PyObject *o = cstring_make(&CString_Type, text, (void *)s);
    Py_DECREF(text);
    return o;
}

/* CString(text, address): for code that builds one itself (tests, wrappers
 * handing out C strings they fetched another way). */
static PyObject *cstring_new(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"text", "address", NULL};
    PyObject *text, *address;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "UO:CString", keywords, &text, &address))
        return NULL;
    if (!PyLong_Check(address)) {
        PyErr_Format(PyExc_TypeError, "CString() address must be an int, got %.200s", Py_TYPE(address)->tp_name);
        return NULL;
    }
    /* Converted as a pointer argument is: range-checked (a negative int is
     * not read as two's complement), with the same message. */
    PyObject *where = PyUnicode_FromString("CString() address");
    if (where == NULL)
        return NULL;
    Slot s;
    BufferList none = {NULL, 0};
    int r = convert_scalar(KIND_POINTER, address, &s, &none, (ErrCtx){where, 0});
    Py_DECREF(where);
    if (r < 0)
        return NULL;
    if (s.p == NULL) {
        PyErr_SetString(PyExc_ValueError, "CString() address must not be NULL (a NULL result is None)");
        return NULL;
    }
    return cstring_make(cls, text, s.p);
}

static PyObject *cstring_get_address(CStringObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromVoidPtr(self->address);
}

/* Copies and pickles are plain str: the address belongs to this object,
 * whose text C returned, not to text rebuilt elsewhere. */
static PyObject *cstring_reduce(PyObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *text = PyUnicode_FromObject(self);
    if (text == NULL)
        return NULL;
    return Py_BuildValue("(O(N))", (PyObject *)&PyUnicode_Type, text);
}

static PyMethodDef cstring_methods[] = {
    {"__reduce__", cstring_reduce, METH_NOARGS, "Copies and pickles are plain str."},
    {NULL},
};

static PyGetSetDef cstring_getset[] = {
    {"address", (getter)cstring_get_address, NULL,
     "the char * the C function returned, as an int (free it with the library's deallocator)", NULL},
    {NULL},
};

PyTypeObject CString_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fastffi.CString",
    .tp_basicsize = sizeof(CStringObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "CString(text, address): a str returned by a C function declared to return a non-const "
              "char *, with .address, the pointer it returned.",
    .tp_new = cstring_new,
    .tp_methods = cstring_methods,
    .tp_getset = cstring_getset,
};

int cstring_ready(void)
{
    CString_Type.tp_base = &PyUnicode_Type;
    return PyType_Ready(&CString_Type);
}
