/* The Function object: the callable every tier shares.  Its vectorcall slot
 * is the tier's entry point, chosen once at creation by the Python side
 * (fastffi/tiers.py) -- this is the one place where tiers plug in. */
#include "core.h"

#include "plan.h"

static PyObject *function_make(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *keywords[] = {
        "address", "name", "retkind", "argkinds", "retstruct", "retsize", "argstructs",
        "restype", "argtypes", "lib", "flags", "tier", "explanation", "ffi_structs", "plan", NULL,
    };
    PyObject *address, *name, *retstruct, *argstructs, *restype, *argtypes, *lib, *tier, *explanation;
    PyObject *ffi_structs = Py_None, *plan = Py_None;
    int retkind, flags;
    Py_buffer argkinds;
    Py_ssize_t retsize;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OUiy*OnO!OO!OiUO|OO", keywords,
                                     &address, &name, &retkind, &argkinds, &retstruct, &retsize,
                                     &PyTuple_Type, &argstructs, &restype, &PyTuple_Type, &argtypes,
                                     &lib, &flags, &tier, &explanation, &ffi_structs, &plan))
        return NULL;

    Py_ssize_t nargs = argkinds.len;
    PyObject *error = NULL;
    if (nargs > FASTFFI_MAX_ARGS)
        error = PyUnicode_FromFormat("%U: %zd arguments (at most %d are supported)", name, nargs, FASTFFI_MAX_ARGS);
    else if (PyTuple_GET_SIZE(argstructs) != nargs || PyTuple_GET_SIZE(argtypes) != nargs)
        error = PyUnicode_FromString("argstructs/argtypes must have one entry per argument");
    else if (retkind < 0 || retkind >= KIND__COUNT)
        error = PyUnicode_FromString("bad return kind");
    else if (lib != Py_None && Py_TYPE(lib) != &Library_Type)
        error = PyUnicode_FromString("lib must be a LibraryHandle or None");
    else if (retkind == KIND_STRUCT && !(PyType_Check(retstruct) && PyType_IsSubtype((PyTypeObject *)retstruct, &CData_Type)))
        error = PyUnicode_FromString("a struct return needs its CData class");
    if (error != NULL) {
        PyBuffer_Release(&argkinds);
        PyErr_SetObject(PyExc_ValueError, error);
        Py_DECREF(error);
        return NULL;
    }
    void *target = PyLong_AsVoidPtr(address);
    if (target == NULL) {
        PyBuffer_Release(&argkinds);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "function address must not be NULL");
        return NULL;
    }

    FunctionObject *f = PyObject_New(FunctionObject, &Function_Type);
    if (f == NULL) {
        PyBuffer_Release(&argkinds);
        return NULL;
    }
    /* Zero everything after the header so dealloc is safe at any failure. */
    memset((char *)f + sizeof(PyObject), 0, sizeof(FunctionObject) - sizeof(PyObject));
    f->target = (void (*)(void))target;
    f->nargs = nargs;
    f->flags = flags;
    f->retkind = (uint8_t)retkind;
    f->retsize = retsize;
    for (Py_ssize_t i = 0; i < nargs; i++) {
        uint8_t k = ((uint8_t *)argkinds.buf)[i];
        f->argkinds[i] = k;
        if (k == KIND_POINTER || k == KIND_STRING)
            f->nbufargs++;
    }
    PyBuffer_Release(&argkinds);
    if (retkind == KIND_STRUCT) {
        Py_INCREF(retstruct);
        f->retstruct = (PyTypeObject *)retstruct;
    }
    if (lib != Py_None) {
        Py_INCREF(lib);
        f->lib = (LibraryObject *)lib;
    }
    Py_INCREF(argstructs); f->argstructs = argstructs;
    Py_INCREF(name); f->name = name;
    Py_INCREF(restype); f->restype = restype;
    Py_INCREF(argtypes); f->argtypes = argtypes;
    Py_INCREF(tier); f->tier = tier;
    Py_INCREF(explanation); f->explanation = explanation;
    Py_INCREF(ffi_structs); f->keepalive = ffi_structs;

    int status;
    if (PyUnicode_CompareWithASCIIString(tier, "libffi") == 0) {
        f->vectorcall = call_libffi;
        status = libffi_prepare(f, ffi_structs);
    }
    else if (PyUnicode_CompareWithASCIIString(tier, "plan") == 0) {
        f->vectorcall = call_plan;
        status = plan_prepare(f, plan);
    }
    else {
        PyErr_Format(PyExc_ValueError, "the C core has no tier %R", tier);
        status = -1;
    }
    if (status < 0) {
        Py_DECREF(f);
        return NULL;
    }
    return (PyObject *)f;
}

static void function_dealloc(FunctionObject *f)
{
    if (f->weakreflist != NULL)
        PyObject_ClearWeakRefs((PyObject *)f);
    plan_free(f);
    PyMem_Free(f->ffi_argtypes);
    Py_XDECREF(f->lib);
    Py_XDECREF(f->retstruct);
    Py_XDECREF(f->argstructs);
    Py_XDECREF(f->name);
    Py_XDECREF(f->restype);
    Py_XDECREF(f->argtypes);
    Py_XDECREF(f->tier);
    Py_XDECREF(f->explanation);
    Py_XDECREF(f->keepalive);
    PyObject_Free(f);
}

static PyObject *function_explain(FunctionObject *f, PyObject *unused)
{
    (void)unused;
    /* Computed on first use: creation stays cheap, explain() is for people. */
    if (!PyUnicode_Check(f->explanation)) {
        PyObject *text = PyObject_CallOneArg(f->explanation, (PyObject *)f);
        if (text == NULL)
            return NULL;
        Py_SETREF(f->explanation, text);
    }
    Py_INCREF(f->explanation);
    return f->explanation;
}

static PyObject *function_repr(FunctionObject *f)
{
    return PyUnicode_FromFormat("<fastffi.Function %U at %p, tier=%U>", f->name, (void *)f->target, f->tier);
}

static PyObject *function_get_address(FunctionObject *f, void *closure)
{
    (void)closure;
    return PyLong_FromVoidPtr((void *)f->target);
}

static PyObject *function_get_library(FunctionObject *f, void *closure)
{
    (void)closure;
    PyObject *lib = f->lib ? (PyObject *)f->lib : Py_None;
    Py_INCREF(lib);
    return lib;
}

static PyMethodDef function_methods[] = {
    {"explain", (PyCFunction)function_explain, METH_NOARGS,
     "The signature, the tier chosen and why each faster tier was refused."},
    {NULL},
};

static PyMemberDef function_members[] = {
    {"__name__", T_OBJECT, offsetof(FunctionObject, name), READONLY, "the C function's name"},
    {"restype", T_OBJECT, offsetof(FunctionObject, restype), READONLY, "canonical return type name or struct class"},
    {"argtypes", T_OBJECT, offsetof(FunctionObject, argtypes), READONLY, "tuple of canonical argument types"},
    {"tier", T_OBJECT, offsetof(FunctionObject, tier), READONLY, "the tier that runs this function"},
    {NULL},
};

static PyGetSetDef function_getset[] = {
    {"address", (getter)function_get_address, NULL, "the C function's address", NULL},
    {"_handle_", (getter)function_get_library, NULL, "the library handle, or None", NULL},
    {NULL},
};

PyTypeObject Function_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fastffi.Function",
    .tp_basicsize = sizeof(FunctionObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "A C function with a signature fixed at creation. Call it like a Python function.",
    .tp_dealloc = (destructor)function_dealloc,
    .tp_vectorcall_offset = offsetof(FunctionObject, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_repr = (reprfunc)function_repr,
    .tp_methods = function_methods,
    .tp_members = function_members,
    .tp_getset = function_getset,
    .tp_weaklistoffset = offsetof(FunctionObject, weakreflist),
};

PyMethodDef function_module_methods[] = {
    {"make_function", (PyCFunction)(void (*)(void))function_make, METH_VARARGS | METH_KEYWORDS,
     "Create a Function from a signature decided by fastffi.tiers."},
    {NULL},
};
