/* fastffi._core: the per-call runtime.  Module init registers the types and
 * publishes the facts the Python side builds its type table from -- sizes and
 * alignments come from this compiler, not from a table typed by hand. */
#include "core.h"

#include "callbacks/callback.h"
#include "runtime/convert.h"
#include "runtime/function_spec.h"
#include "tiers/plan.h"
#include "tiers/tier.h"

#include <limits.h>
#include <stdlib.h>
#include <wchar.h>

#ifndef FASTFFI_LIBFFI_VERSION
#define FASTFFI_LIBFFI_VERSION "unknown"
#endif

extern PyMethodDef cdata_methods[];
extern PyMethodDef function_module_methods[];
extern PyMethodDef batch_methods[];

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "fastffi._core",
    .m_doc = "fastffi's C core: the per-call runtime of every tier.",
    .m_size = -1,
};

/* getenv(name): the C environment, which os.environ's changes reach
 * (putenv/unsetenv).  Read at every function creation (FASTFFI_TIER): a
 * lookup that fails in os.environ raises and catches a KeyError. */
static PyObject *core_getenv(PyObject *m, PyObject *name)
{
    (void)m;
    const char *key = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
    if (key == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "getenv() takes a str");
        return NULL;
    }
    const char *value = getenv(key);
    return value == NULL ? Py_NewRef(Py_None) : PyUnicode_DecodeFSDefault(value);
}

static PyMethodDef module_methods[] = {
    {"getenv", core_getenv, METH_O, "getenv(name): the value in the C environment, or None."},
    {NULL},
};

static int add_methods(PyObject *m, PyMethodDef *defs)
{
    return PyModule_AddFunctions(m, defs);
}

/* KINDS: {name: (code, size, alignment)} for every scalar kind. */
static PyObject *kinds_table(void)
{
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
#define X(e, name, ctype, ffitype)                                                          \
    {                                                                                       \
        PyObject *v = Py_BuildValue("(inn)", (int)KIND_##e, (Py_ssize_t)sizeof(ctype),      \
                                    (Py_ssize_t)_Alignof(ctype));                           \
        if (v == NULL || PyDict_SetItemString(d, name, v) < 0) {                            \
            Py_XDECREF(v);                                                                  \
            Py_DECREF(d);                                                                   \
            return NULL;                                                                    \
        }                                                                                   \
        Py_DECREF(v);                                                                       \
    }
    FASTFFI_SCALAR_KINDS(X)
#undef X
    return d;
}

PyMODINIT_FUNC PyInit__core(void)
{
    if (convert_init() < 0 || cstring_ready() < 0 || callback_ready() < 0)
        return NULL;
    PyTypeObject *types[] = {&CData_Type, &Library_Type, &Function_Type, &FFIStructType_Type, &CodeRegion_Type,
                             &Reader_Type};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (PyType_Ready(types[i]) < 0)
            return NULL;

    PyObject *m = PyModule_Create(&core_module);
    if (m == NULL)
        return NULL;
    if (add_methods(m, memory_methods) < 0 || add_methods(m, cdata_methods) < 0
        || add_methods(m, function_module_methods) < 0 || add_methods(m, execmem_methods) < 0
        || add_methods(m, batch_methods) < 0 || add_methods(m, module_methods) < 0
        || add_methods(m, init_methods) < 0 || add_methods(m, callback_methods) < 0)
        goto fail;
    if (PyModule_AddObjectRef(m, "CData", (PyObject *)&CData_Type) < 0
        || PyModule_AddObjectRef(m, "LibraryHandle", (PyObject *)&Library_Type) < 0
        || PyModule_AddObjectRef(m, "Function", (PyObject *)&Function_Type) < 0
        || PyModule_AddObjectRef(m, "FFIStructType", (PyObject *)&FFIStructType_Type) < 0
        || PyModule_AddObjectRef(m, "_CodeRegion", (PyObject *)&CodeRegion_Type) < 0
        || PyModule_AddObjectRef(m, "CString", (PyObject *)&CString_Type) < 0
        || PyModule_AddObjectRef(m, "Reader", (PyObject *)&Reader_Type) < 0)
        goto fail;
    PyObject *kinds = kinds_table();
    if (kinds == NULL || PyModule_AddObject(m, "KINDS", kinds) < 0) {
        Py_XDECREF(kinds);
        goto fail;
    }
    if (PyModule_AddIntConstant(m, "KIND_VOID", KIND_VOID) < 0
        || PyModule_AddIntConstant(m, "KIND_STRUCT", KIND_STRUCT) < 0
        || PyModule_AddIntConstant(m, "MAX_ARGS", FASTFFI_MAX_ARGS) < 0
        || PyModule_AddIntConstant(m, "RELEASE_GIL", FN_RELEASE_GIL) < 0
        || PyModule_AddIntConstant(m, "USE_ERRNO", FN_USE_ERRNO) < 0
        || PyModule_AddIntConstant(m, "JIT_ALLOWED", FN_JIT_ALLOWED) < 0
        || PyModule_AddIntConstant(m, "STRING_ADDRESS", FN_STRING_ADDRESS) < 0
        || PyModule_AddIntConstant(m, "FUNCTION_RESULT", FN_FUNCTION_RESULT) < 0
        || PyModule_AddIntConstant(m, "TYPED_POINTER_RESULT", FN_TYPED_POINTER_RESULT) < 0
        || PyModule_AddIntConstant(m, "ARG_BYTES_SLOW", ARG_BYTES_SLOW) < 0
        || PyModule_AddIntConstant(m, "ARG_MUTABLE", ARG_MUTABLE) < 0
        || PyModule_AddIntConstant(m, "ARG_NUL", ARG_NUL) < 0
        || PyModule_AddIntConstant(m, "ARG_TYPED", ARG_TYPED) < 0
        || PyModule_AddIntConstant(m, "ARG_FUNCTION", ARG_FUNCTION) < 0
        || PyModule_AddIntConstant(m, "CHAR_SIGNED", CHAR_MIN < 0) < 0
        || PyModule_AddIntConstant(m, "WCHAR_SIZE", (long)sizeof(wchar_t)) < 0
        || PyModule_AddIntConstant(m, "WCHAR_SIGNED", WCHAR_MIN < 0) < 0
        || PyModule_AddIntConstant(m, "LONG_SIZE", (long)sizeof(long)) < 0
        || PyModule_AddIntConstant(m, "POINTER_SIZE", (long)sizeof(void *)) < 0
        || PyModule_AddIntConstant(m, "LONG_DOUBLE_SIZE", (long)sizeof(long double)) < 0
        || PyModule_AddStringConstant(m, "LIBFFI_VERSION", FASTFFI_LIBFFI_VERSION) < 0
        || plan_add_constants(m) < 0 || jit_add_runtime(m) < 0 || tiers_add_constants(m) < 0
        || function_spec_add_constants(m) < 0 || callback_add_constants(m) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
