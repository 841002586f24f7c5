/* The Function object: the callable every tier shares.
 *
 * Each Function is an immutable heap type whose metatype is Function_Type
 * (core.h says why: it is the only callable that CPython 3.11+ specialises
 * calls to while still carrying fn.tier/fn.explain()).  Its tp_vectorcall is
 * the tier's entry point, installed once at creation from the tier table
 * (tiers/tier.h) by the tier the function spec names. */
#include "core.h"

#include "runtime/convert.h"
#include "runtime/function_spec.h"
#include "tiers/plan.h"
#include "tiers/tier.h"

static PyObject *refuse_instances(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyErr_Format(PyExc_TypeError, "%s is a C function: call it, it has no instances", type->tp_name);
    return NULL;
}

/* A new, empty Function: a heap type filled in here and readied, the way
 * PyType_FromSpec builds one -- type_new would also look up every special
 * method name through the MRO (fixup_slot_dispatchers) and make attribute
 * descriptors, most of a creation's cost, for a type that has no instances
 * and no Python-level methods.  Immutable, not subclassable, uninstantiable;
 * our fields are zeroed by the allocator. */
static FunctionObject *function_alloc(PyObject *name)
{
    /* Made once (PyDict_SetItemString would make and intern its key on
     * every call). */
    static PyObject *bases, *module, *key_module;
    if (bases == NULL && (bases = PyTuple_Pack(1, (PyObject *)&PyBaseObject_Type)) == NULL)
        return NULL;
    if (module == NULL && (module = PyUnicode_InternFromString("fastffi")) == NULL)
        return NULL;
    if (key_module == NULL && (key_module = PyUnicode_InternFromString("__module__")) == NULL)
        return NULL;
    const char *tp_name = PyUnicode_AsUTF8(name);   /* kept alive by ht_name */
    if (tp_name == NULL)
        return NULL;
    FunctionObject *f = (FunctionObject *)PyType_GenericAlloc(&Function_Type, 0);
    if (f == NULL)
        return NULL;
    PyHeapTypeObject *ht = &f->type;
    PyTypeObject *t = &ht->ht_type;
    t->tp_as_async = &ht->as_async;
    t->tp_as_number = &ht->as_number;
    t->tp_as_sequence = &ht->as_sequence;
    t->tp_as_mapping = &ht->as_mapping;
    t->tp_as_buffer = &ht->as_buffer;
    ht->ht_name = Py_NewRef(name);
    ht->ht_qualname = Py_NewRef(name);
    t->tp_name = tp_name;
    t->tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HEAPTYPE | Py_TPFLAGS_IMMUTABLETYPE;
    t->tp_base = (PyTypeObject *)Py_NewRef((PyObject *)&PyBaseObject_Type);
    t->tp_bases = Py_NewRef(bases);
    t->tp_basicsize = PyBaseObject_Type.tp_basicsize;
    t->tp_new = refuse_instances;
    /* PyType_Ready sets __doc__ (None: tp_doc is NULL); __module__ is ours. */
    if (PyType_Ready(t) < 0 || PyDict_SetItem(t->tp_dict, key_module, module) < 0) {
        Py_DECREF(f);
        return NULL;
    }
    return f;
}

int spec_ssize(PyObject *const *spec, int field, Py_ssize_t *out)
{
    static const char *names[SPEC__COUNT] = {
#define X(e, name) [SPEC_##e] = name,
        FASTFFI_FUNCTION_SPEC(X)
#undef X
    };
    PyObject *obj = spec[field];
    *out = PyLong_Check(obj) ? PyLong_AsSsize_t(obj) : -1;
    if (*out == -1 && (!PyLong_Check(obj) || PyErr_Occurred())) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "make_function: spec.%s must be an int", names[field]);
        return -1;
    }
    return 0;
}

int function_spec_add_constants(PyObject *m)
{
    PyObject *fields = Py_BuildValue("(" 
#define X(e, name) "s"
        FASTFFI_FUNCTION_SPEC(X)
#undef X
        ")"
#define X(e, name) , name
        FASTFFI_FUNCTION_SPEC(X)
#undef X
    );
    if (fields == NULL || PyModule_AddObject(m, "FUNCTION_SPEC_FIELDS", fields) < 0) {
        Py_XDECREF(fields);
        return -1;
    }
    return 0;
}

/* the wide kinds convert through a Wide, which the libffi and plan
 * tiers' call paths do and the JIT's emitted code does not. */
static int wide_kinds(Py_ssize_t retkind, PyObject *argkinds)
{
    if (retkind < KIND__COUNT && kind_is_wide((int)retkind))
        return 1;
    for (Py_ssize_t i = 0; i < PyBytes_GET_SIZE(argkinds); i++)
        if (kind_is_wide((uint8_t)PyBytes_AS_STRING(argkinds)[i]))
            return 1;
    return 0;
}

/* The per-argument checks are read by the call path without further
 * checks (runtime/convert.h): flags only on pointer arguments, and a pointee
 * description -- (str, str, int, tuple of CData classes) -- exactly where
 * ARG_TYPED is set, or (key, str, callable) exactly where ARG_FUNCTION is
 * (never both: a function is not a typed pointee). */
static int argchecks_invalid(PyObject *argkinds, PyObject *argchecks, PyObject *argpointees)
{
    for (Py_ssize_t i = 0; i < PyBytes_GET_SIZE(argkinds); i++) {
        uint8_t k = (uint8_t)PyBytes_AS_STRING(argkinds)[i];
        uint8_t c = (uint8_t)PyBytes_AS_STRING(argchecks)[i];
        PyObject *p = PyTuple_GET_ITEM(argpointees, i);
        if (c & ~(ARG_BYTES_SLOW | ARG_MUTABLE | ARG_NUL | ARG_TYPED | ARG_FUNCTION))
            return 1;
        if (c != 0 && k != KIND_POINTER && k != KIND_STRING && k != KIND_WSTRING)
            return 1;
        if (c & ARG_FUNCTION) {
            if ((c & ARG_TYPED) || k != KIND_POINTER || !PyTuple_Check(p) || PyTuple_GET_SIZE(p) != FNPOINTEE__COUNT
                || !PyUnicode_Check(PyTuple_GET_ITEM(p, FNPOINTEE_SIGNATURE))
                || !PyCallable_Check(PyTuple_GET_ITEM(p, FNPOINTEE_WRAP)))
                return 1;
            continue;
        }
        if (!(c & ARG_TYPED)) {
            if (p != Py_None)
                return 1;
            continue;
        }
        if (!PyTuple_Check(p) || PyTuple_GET_SIZE(p) != POINTEE__COUNT
            || !PyUnicode_Check(PyTuple_GET_ITEM(p, POINTEE_NAME))
            || !PyUnicode_Check(PyTuple_GET_ITEM(p, POINTEE_PARAM))
            || !PyLong_Check(PyTuple_GET_ITEM(p, POINTEE_SIZE))
            || !PyTuple_Check(PyTuple_GET_ITEM(p, POINTEE_CLASSES)))
            return 1;
        PyObject *classes = PyTuple_GET_ITEM(p, POINTEE_CLASSES);
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(classes); j++) {
            PyObject *cls = PyTuple_GET_ITEM(classes, j);
            if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &CData_Type))
                return 1;
        }
    }
    return 0;
}

/* What compat_long_subtype_copy may make: an int subclass adding no field. */
static int typed_pointer_class(PyObject *cls)
{
    if (!PyType_Check(cls))
        return 0;
    PyTypeObject *t = (PyTypeObject *)cls;
    return PyType_IsSubtype(t, &PyLong_Type) && t->tp_basicsize == PyLong_Type.tp_basicsize
           && t->tp_itemsize == PyLong_Type.tp_itemsize && t->tp_alloc != NULL;
}

PyObject *function_result(const FunctionObject *f, void *address)
{
    if (address == NULL && !(f->flags & FN_TYPED_POINTER_RESULT))
        Py_RETURN_NONE;
    PyObject *addr = PyLong_FromVoidPtr(address);
    if (addr == NULL || f->result_maker == NULL)   /* cleared by the collector: the address itself */
        return addr;
    if ((f->flags & FN_TYPED_POINTER_COPY) && (uintptr_t)address > 256) {
        /* The Pointer class of the result's type (found at creation to be
         * an int subclass with int's layout), made without calling it: a
         * call through the class cost ~830 instructions more than a void *
         * result's, this ~430 (BENCHMARKS.md).  Small values (NULL) may be
         * cached ints, whose tag 3.14 flags: those call the class. */
        PyObject *p = compat_long_subtype_copy((PyTypeObject *)f->result_maker, addr);
        if (p != NULL || PyErr_Occurred()) {
            Py_DECREF(addr);
            return p;
        }
    }
    PyObject *fn = PyObject_CallOneArg(f->result_maker, addr);
    Py_DECREF(addr);
    return fn;
}

/* make_function(spec): spec is a FunctionSpec (runtime/function_spec.h),
 * read by index.  One tuple rather than keywords: parsing keywords would cost
 * more than the rest of this function's checks. */
static PyObject *function_make(PyObject *module, PyObject *spec_obj)
{
    (void)module;
    if (core_require_init() < 0)
        return NULL;
    if (!PyTuple_Check(spec_obj) || PyTuple_GET_SIZE(spec_obj) != SPEC__COUNT) {
        PyErr_Format(PyExc_TypeError, "make_function() takes a FunctionSpec (%d fields), got %.200s",
                     SPEC__COUNT, Py_TYPE(spec_obj)->tp_name);
        return NULL;
    }
    PyObject *const *spec = &PyTuple_GET_ITEM(spec_obj, 0);
    PyObject *address = spec[SPEC_ADDRESS], *name = spec[SPEC_NAME], *argkinds = spec[SPEC_ARGKINDS];
    PyObject *retstruct = spec[SPEC_RETSTRUCT], *argstructs = spec[SPEC_ARGSTRUCTS];
    PyObject *argtypes = spec[SPEC_ARGTYPES], *lib = spec[SPEC_LIB];
    PyObject *argchecks = spec[SPEC_ARGCHECKS], *argpointees = spec[SPEC_ARGPOINTEES];
    Py_ssize_t retkind, retsize, flags, tier, stack_bytes, nfixed;
    if (spec_ssize(spec, SPEC_RETKIND, &retkind) < 0 || spec_ssize(spec, SPEC_RETSIZE, &retsize) < 0 ||
        spec_ssize(spec, SPEC_FLAGS, &flags) < 0 || spec_ssize(spec, SPEC_TIER, &tier) < 0 ||
        spec_ssize(spec, SPEC_STACK_CHECK, &stack_bytes) < 0 || spec_ssize(spec, SPEC_NFIXED, &nfixed) < 0)
        return NULL;
    if (!PyUnicode_Check(name) || !PyBytes_Check(argkinds) || !PyTuple_Check(argstructs) || !PyTuple_Check(argtypes)
        || !PyBytes_Check(argchecks) || !PyTuple_Check(argpointees)) {
        PyErr_SetString(PyExc_TypeError, "make_function: spec.name must be str, argkinds and argchecks bytes, "
                                         "argstructs, argtypes and argpointees tuples");
        return NULL;
    }

    Py_ssize_t nargs = PyBytes_GET_SIZE(argkinds);
    PyObject *error = NULL;
    if (nargs > FASTFFI_MAX_ARGS)
        error = PyUnicode_FromFormat("%U: %zd arguments (at most %d are supported)", name, nargs, FASTFFI_MAX_ARGS);
    else if (PyTuple_GET_SIZE(argstructs) != nargs || PyTuple_GET_SIZE(argtypes) != nargs
             || PyBytes_GET_SIZE(argchecks) != nargs || PyTuple_GET_SIZE(argpointees) != nargs)
        error = PyUnicode_FromString("argstructs/argtypes/argchecks/argpointees must have one entry per argument");
    else if (argchecks_invalid(argkinds, argchecks, argpointees))
        error = PyUnicode_FromString("argchecks/argpointees do not describe pointer arguments");
    else if (retkind < 0 || retkind >= KIND__COUNT)
        error = PyUnicode_FromString("bad return kind");
    else if (nfixed < -1 || nfixed > nargs)
        error = PyUnicode_FromString("nfixed must be -1 or at most the number of arguments");
    else if (spec[SPEC_VARIADIC] != Py_None && nfixed != nargs)
        error = PyUnicode_FromString("a variadic declaration has its fixed arguments only");
    else if (stack_bytes < 0)
        error = PyUnicode_FromString("stack_check must not be negative");
    else if (tier < 0 || tier >= TIER__COUNT)
        error = PyUnicode_FromFormat("the C core has no tier %zd", tier);
    else if (tier == TIER_JIT && wide_kinds(retkind, argkinds))
        error = PyUnicode_FromString("the JIT tier does not pass c64/c128/longdouble");
    else if (lib != Py_None && Py_TYPE(lib) != &Library_Type)
        error = PyUnicode_FromString("lib must be a LibraryHandle or None");
    else if ((flags & FN_MADE_RESULT) && (retkind != KIND_POINTER || !PyCallable_Check(spec[SPEC_RESULT_MAKER])))
        error = PyUnicode_FromString("a function-pointer or typed pointer result needs a pointer return kind and a result_maker");
    else if ((flags & FN_MADE_RESULT) == FN_MADE_RESULT)
        error = PyUnicode_FromString("a result is a function pointer or a typed pointer, not both");
    else if (flags & FN_TYPED_POINTER_COPY)
        error = PyUnicode_FromString("flags: FN_TYPED_POINTER_COPY is make_function's own");
    else if (retkind == KIND_STRUCT && !(PyType_Check(retstruct) && PyType_IsSubtype((PyTypeObject *)retstruct, &CData_Type)))
        error = PyUnicode_FromString("a struct return needs its CData class");
    if (error != NULL) {
        PyErr_SetObject(PyExc_ValueError, error);
        Py_DECREF(error);
        return NULL;
    }
    void *target = PyLong_AsVoidPtr(address);
    if (target == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "function address must not be NULL");
        return NULL;
    }

    /* PEP 578: an address is about to become callable (every creation, raw
     * addresses and symbols alike; ctypes audits its calls instead, which
     * would put a check on fastffi's per-call path). */
    if (PySys_Audit("fastffi.function", "OO", address, name) < 0)
        return NULL;
    FunctionObject *f = function_alloc(name);
    if (f == NULL)
        return NULL;
    f->target = (void (*)(void))target;
    f->nargs = nargs;
    f->flags = (int)flags;
    if ((flags & FN_TYPED_POINTER_RESULT) && typed_pointer_class(spec[SPEC_RESULT_MAKER]))
        f->flags |= FN_TYPED_POINTER_COPY;
    f->retkind = (uint8_t)retkind;
    f->retsize = retsize;
    f->stack_check = stack_bytes;
    f->nfixed = nfixed;
    for (Py_ssize_t i = 0; i < nargs; i++) {
        uint8_t k = (uint8_t)PyBytes_AS_STRING(argkinds)[i];
        f->argkinds[i] = k;
        f->argchecks[i] = (uint8_t)PyBytes_AS_STRING(argchecks)[i];
        if (k == KIND_POINTER || k == KIND_STRING || k == KIND_WSTRING)
            f->nbufargs++;
    }
    if (retkind == KIND_STRUCT)
        f->retstruct = (PyTypeObject *)Py_NewRef(retstruct);
    static const char never_closed = 0;
    /* A raw address's calls are counted too (one straight line for every
     * call), on a counter that starts at 1 and so never reaches 0. */
    static Py_ssize_t no_library_inflight = 1;
    f->closed = &never_closed;
    f->inflight = &no_library_inflight;
    if (lib != Py_None) {
        f->lib = (LibraryObject *)Py_NewRef(lib);
        f->closed = &f->lib->closed;
        f->inflight = &f->lib->inflight;
    }
    f->argstructs = Py_NewRef(argstructs);
    f->argpointees = Py_NewRef(argpointees);
    f->name = Py_NewRef(name);
    f->restype = Py_NewRef(spec[SPEC_RESTYPE]);
    f->argtypes = Py_NewRef(argtypes);
    f->explanation = Py_NewRef(spec[SPEC_EXPLANATION]);
    if (flags & FN_MADE_RESULT)
        f->result_maker = Py_NewRef(spec[SPEC_RESULT_MAKER]);
    f->signature = Py_NewRef(spec[SPEC_SIGNATURE]);
    /* fn.__doc__: type.__doc__ reads a heap type's own dict (PyType_Ready put None there). */
    if (PyUnicode_Check(spec[SPEC_DOC]) && PyDict_SetItemString(f->type.ht_type.tp_dict, "__doc__", spec[SPEC_DOC]) < 0) {
        Py_DECREF(f);
        return NULL;
    }

    const Tier *t = &fastffi_tiers[tier];
    f->tier = (int)tier;
    function_set_entry(f, t->entry);
    if (t->prepare(f, spec) < 0) {
        Py_DECREF(f);
        return NULL;
    }
    if (spec[SPEC_VARIADIC] != Py_None) {
        /* A declaration: calls type their extra arguments and dispatch
         * (runtime/variadic.c); the tier's entry, prepared above for the
         * fixed arguments alone, is what explain() describes. */
        if (variadic_prepare(f, spec[SPEC_VARIADIC]) < 0) {
            Py_DECREF(f);
            return NULL;
        }
        function_set_entry(f, call_variadic);
    }
    return (PyObject *)f;
}

static int function_traverse(FunctionObject *f, visitproc visit, void *arg)
{
    Py_VISIT(f->lib);
    Py_VISIT(f->retstruct);
    Py_VISIT(f->argstructs);
    Py_VISIT(f->argpointees);
    Py_VISIT(f->restype);
    Py_VISIT(f->argtypes);
    Py_VISIT(f->explanation);
    Py_VISIT(f->signature);
    Py_VISIT(f->keepalive);
    Py_VISIT(f->result_maker);
    if (variadic_traverse(f, visit, arg) < 0)
        return -1;
    return PyType_Type.tp_traverse((PyObject *)f, visit, arg);
}

/* Breaks the heap type's own cycle (its MRO holds it); our fields stay
 * until dealloc.  Setting tp_traverse stops PyType_Ready from inheriting
 * type_clear, so it must be named here. */
static int function_clear(FunctionObject *f)
{
    variadic_clear(f);   /* the Functions it dispatched to may refer back (their explain()) */
    Py_CLEAR(f->result_maker);   /* the Functions it made and keeps */
    return PyType_Type.tp_clear((PyObject *)f);
}

static void function_dealloc(FunctionObject *f)
{
    plan_free(f);
    PyMem_Free(f->ffi_argtypes);
    f->ffi_argtypes = NULL;
    Py_CLEAR(f->lib);
    Py_CLEAR(f->retstruct);
    Py_CLEAR(f->argstructs);
    Py_CLEAR(f->argpointees);
    Py_CLEAR(f->name);
    Py_CLEAR(f->restype);
    Py_CLEAR(f->argtypes);
    Py_CLEAR(f->explanation);
    Py_CLEAR(f->signature);
    Py_CLEAR(f->keepalive);
    Py_CLEAR(f->result_maker);
    variadic_clear(f);
    PyType_Type.tp_dealloc((PyObject *)f);
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
    return Py_NewRef(f->explanation);
}

/* fn.__signature__, which inspect.signature(fn) reads first: made on first use
 * (the spec's callable), then kept.  A spec without one gives None, and
 * inspect then says it has no signature. */
static PyObject *get_signature(FunctionObject *f, void *c)
{
    (void)c;
    if (!f->signature_made && f->signature != NULL && f->signature != Py_None) {
        PyObject *sig = PyObject_CallOneArg(f->signature, (PyObject *)f);
        if (sig == NULL)
            return NULL;
        Py_SETREF(f->signature, sig);
        f->signature_made = 1;
    }
    return Py_NewRef(f->signature != NULL ? f->signature : Py_None);
}

static PyObject *function_repr(FunctionObject *f)
{
    return PyUnicode_FromFormat("<fastffi.Function %U at %p, tier=%U>", f->name, (void *)f->target,
                                tier_name(f->tier));
}

static PyObject *get_address(FunctionObject *f, void *c) { return PyLong_FromVoidPtr((void *)f->target); }
static PyObject *get_restype(FunctionObject *f, void *c) { return Py_NewRef(f->restype); }
static PyObject *get_argtypes(FunctionObject *f, void *c) { return Py_NewRef(f->argtypes); }
static PyObject *get_tier(FunctionObject *f, void *c) { return Py_NewRef(tier_name(f->tier)); }
static PyObject *get_handle(FunctionObject *f, void *c) { return Py_NewRef(f->lib ? (PyObject *)f->lib : Py_None); }
static PyObject *get_code(FunctionObject *f, void *c)
{
    return Py_NewRef(f->keepalive && Py_TYPE(f->keepalive) == &CodeRegion_Type ? f->keepalive : Py_None);
}

/* map() and shared() are Python (fastffi/batch.py: validation is per batch,
 * not per call); the metatype forwards to the entry points _init handed us. */
static PyObject *forward_to_batch(FunctionObject *f, PyObject *impl, PyObject *args, PyObject *kwargs)
{
    PyObject *full = PyTuple_New(PyTuple_GET_SIZE(args) + 1);
    if (full == NULL)
        return NULL;
    PyTuple_SET_ITEM(full, 0, Py_NewRef((PyObject *)f));
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args); i++)
        PyTuple_SET_ITEM(full, i + 1, Py_NewRef(PyTuple_GET_ITEM(args, i)));
    Py_INCREF(impl);   /* a second _init may replace it while it runs */
    PyObject *r = PyObject_Call(impl, full, kwargs);
    Py_DECREF(impl);
    Py_DECREF(full);
    return r;
}

/* A batch converts every row by one signature: a variadic declaration has
 * none until the extra arguments' types are given. */
static int refuse_variadic_batch(FunctionObject *f, const char *method)
{
    if (f->variadic == NULL)
        return 0;
    PyErr_Format(PyExc_TypeError, "%U.%s(): %U() is variadic: give the extra arguments' types, "
                 "%U.variadic(type, ...).%s(...)", f->name, method, f->name, f->name, method);
    return -1;
}

static PyObject *function_map(FunctionObject *f, PyObject *args, PyObject *kwargs)
{
    if (refuse_variadic_batch(f, "map") < 0)
        return NULL;
    return forward_to_batch(f, batch_map, args, kwargs);
}

static PyObject *function_shared(FunctionObject *f, PyObject *args, PyObject *kwargs)
{
    if (refuse_variadic_batch(f, "shared") < 0)
        return NULL;
    return forward_to_batch(f, batch_shared, args, kwargs);
}

static PyMethodDef function_methods[] = {
    {"explain", (PyCFunction)function_explain, METH_NOARGS,
     "The signature, the tier chosen and why each faster tier was refused."},
    {"map", (PyCFunction)(void (*)(void))function_map, METH_VARARGS | METH_KEYWORDS,
     "map($self, /, *columns, out=None, threads=1)\n--\n\n"
     "Call once per row of the argument columns, in a native loop."},
    {"variadic", (PyCFunction)variadic_method, METH_VARARGS,
     "variadic($self, /, *types)\n--\n\n"
     "The Function for the fixed arguments plus these variadic ones (made once per types)."},
    {"shared", (PyCFunction)(void (*)(void))function_shared, METH_VARARGS | METH_KEYWORDS,
     "shared($self, /)\n--\n\n"
     "A SharedCall: arguments in a buffer both sides read; calling it calls with what is in it."},
    {NULL},
};

static PyObject *get_entry(FunctionObject *f, void *c)
{
    return PyLong_FromVoidPtr((void *)f->type.ht_type.tp_vectorcall);
}

static PyObject *get_nfixed(FunctionObject *f, void *c)
{
    return f->nfixed < 0 ? Py_NewRef(Py_None) : PyLong_FromSsize_t(f->nfixed);
}

static PyObject *get_jit_allowed(FunctionObject *f, void *c) { return PyBool_FromLong(f->flags & FN_JIT_ALLOWED); }

static PyGetSetDef function_getset[] = {
    {"address", (getter)get_address, NULL, "the C function's address", NULL},
    {"restype", (getter)get_restype, NULL, "canonical return type name or struct class", NULL},
    {"argtypes", (getter)get_argtypes, NULL, "tuple of canonical argument types", NULL},
    {"tier", (getter)get_tier, NULL, "the tier that runs this function", NULL},
    {"__signature__", (getter)get_signature, NULL, "what inspect.signature(fn) returns", NULL},
    {"_handle_", (getter)get_handle, NULL, "the library handle, or None", NULL},
    {"_code_", (getter)get_code, NULL, "the JIT tier's code region, or None", NULL},
    {"_entry_", (getter)get_entry, NULL, "address of the entry point calls run (generated code or a C routine)", NULL},
    {"_nfixed_", (getter)get_nfixed, NULL, "a variadic function's fixed arguments, or None", NULL},
    {"_jit_allowed_", (getter)get_jit_allowed, NULL, "whether the JIT was allowed at creation (fn.map's loops)", NULL},
    {NULL},
};

PyTypeObject Function_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fastffi.Function",
    .tp_basicsize = sizeof(FunctionObject),
    .tp_itemsize = sizeof(PyMemberDef),   /* as PyType_Type: a metatype keeps type's item layout */
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_TYPE_SUBCLASS,
    .tp_doc = "A C function with a signature fixed at creation. Call it like a Python function.",
    .tp_base = &PyType_Type,
    .tp_new = refuse_instances,
    .tp_dealloc = (destructor)function_dealloc,
    .tp_traverse = (traverseproc)function_traverse,
    .tp_clear = (inquiry)function_clear,
    /* Calls use each Function's own tp_vectorcall (PyType_Type's offset). */
    .tp_vectorcall_offset = offsetof(PyTypeObject, tp_vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_repr = (reprfunc)function_repr,
    .tp_methods = function_methods,
    .tp_getset = function_getset,
};

PyMethodDef function_module_methods[] = {
    {"make_function", function_make, METH_O,
     "make_function(spec): create a Function from a FunctionSpec (fastffi/function_spec.py)."},
    {NULL},
};
