/*
 * The callable representations fastffi could have used, each a no-op, for
 * representation.py to count instructions per call under callgrind:
 *
 *   builtin()   a METH_FASTCALL builtin function (what CPython 3.11 specialises:
 *               PRECALL_NO_KW_BUILTIN_FAST);
 *   VecObj()    an instance of a type with a vectorcall slot (the generic call
 *               path: PyObject_Vectorcall);
 *   VecType()   an immutable *type* whose tp_vectorcall is the entry (what
 *               CPython 3.11 specialises as PRECALL_BUILTIN_CLASS) -- the
 *               representation fastffi uses for Function.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

static PyObject *noop_fastcall(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_RETURN_NONE;
}

static PyObject *noop_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_RETURN_NONE;
}

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
} VecObj;

static PyTypeObject VecObj_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "representation.VecObj",
    .tp_basicsize = sizeof(VecObj),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(VecObj, vectorcall),
    .tp_call = PyVectorcall_Call,
};

static PyObject *refuse(PyTypeObject *t, PyObject *a, PyObject *k)
{
    PyErr_SetString(PyExc_TypeError, "no instances");
    return NULL;
}

static PyMethodDef methods[] = {
    {"builtin", (PyCFunction)(void (*)(void))noop_fastcall, METH_FASTCALL, NULL},
    {NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "representation", NULL, -1, methods};

PyMODINIT_FUNC PyInit_representation(void)
{
    if (PyType_Ready(&VecObj_Type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    VecObj *obj = PyObject_New(VecObj, &VecObj_Type);
    obj->vectorcall = noop_vectorcall;
    PyModule_AddObject(m, "vecobj", (PyObject *)obj);
    /* An immutable heap type with a vectorcall entry and a non-default tp_new. */
    PyObject *args = Py_BuildValue("(s(O){})", "vectype", (PyObject *)&PyBaseObject_Type);
    PyTypeObject *t = (PyTypeObject *)PyType_Type.tp_new(&PyType_Type, args, NULL);
    Py_DECREF(args);
    if (t == NULL)
        return NULL;
    t->tp_vectorcall = noop_vectorcall;
    t->tp_new = refuse;
    t->tp_flags |= Py_TPFLAGS_IMMUTABLETYPE;
    PyType_Modified(t);
    PyModule_AddObject(m, "vectype", (PyObject *)t);
    return m;
}
