/* The libffi mechanism: ffi_closure_alloc / ffi_prep_closure_loc, for every
 * signature and platform the static pool and the JIT do not take -- among
 * them every one with c64/c128/longdouble: libffi copies each argument's
 * bytes into its frame (a complex value from its xmm/v registers, a long
 * double from the stack or q register) and loads the result from the
 * buffer callback.c writes at the type's size (FFI_TYPE_COMPLEX needs
 * FFI_TARGET_HAS_COMPLEX_TYPE: kinds.h).
 *
 * fastffi never maps writable+executable memory itself; libffi's allocator
 * may (Debian's 3.4.4 maps an rwx page where the system allows it, a double
 * mapping where it does not): tiers/callback.py's explain() says so. */
#include "callbacks/callback.h"
#include "callbacks/callback_spec.h"

typedef struct {
    ffi_closure *closure;
    ffi_cif cif;
    ffi_type **argtypes;
    /* The FFIStructType objects the cif points into: owned here, since a
     * retired closure can still be called and libffi reads its cif then. */
    PyObject *ffi_structs;
} Closure;

static void closure_handler(ffi_cif *cif, void *ret, void **args, void *user_data)
{
    (void)cif;
    callback_invoke((CallbackTarget *)user_data, (void *const *)args, ret);
}

/* Called with the GIL held (the quarantine lets go, or creation failed). */
static void closure_release(CallbackTarget *t)
{
    Closure *c = t->mech;
    if (c == NULL)
        return;
    if (c->closure != NULL)
        ffi_closure_free(c->closure);
    PyMem_RawFree(c->argtypes);
    Py_XDECREF(c->ffi_structs);
    PyMem_RawFree(c);
    t->mech = NULL;
}

int closure_prepare(CallbackObject *cb, PyObject *const *spec)
{
    PyObject *ffi_structs = spec[CBSPEC_FFI_STRUCTS];
    if (!PyTuple_Check(ffi_structs) || PyTuple_GET_SIZE(ffi_structs) != cb->nargs + 1) {
        PyErr_SetString(PyExc_ValueError, "ffi_structs must have one entry per argument plus the result");
        return -1;
    }
    CallbackTarget *t = cb->target;
    Closure *c = PyMem_RawCalloc(1, sizeof(Closure));
    if (c == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    t->mech = c;
    t->release = closure_release;
    c->ffi_structs = Py_NewRef(ffi_structs);
    c->argtypes = PyMem_RawCalloc((size_t)(cb->nargs ? cb->nargs : 1), sizeof(ffi_type *));
    if (c->argtypes == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    ffi_type *rtype = NULL;
    for (Py_ssize_t i = 0; i <= cb->nargs; i++) {
        ffi_type *ft = ffi_kind_type(i == 0 ? t->retkind : cb->argkinds[i - 1], PyTuple_GET_ITEM(ffi_structs, i));
        if (ft == NULL)
            return -1;
        if (i == 0)
            rtype = ft;
        else
            c->argtypes[i - 1] = ft;
    }
    ffi_status status = ffi_prep_cif(&c->cif, FFI_DEFAULT_ABI, (unsigned)cb->nargs, rtype, c->argtypes);
    if (status != FFI_OK) {
        PyErr_Format(SignatureError, "%U: libffi cannot prepare this callback signature (ffi_prep_cif status %d)",
                     cb->name, (int)status);
        return -1;
    }
    void *code = NULL;
    c->closure = ffi_closure_alloc(sizeof(ffi_closure), &code);
    if (c->closure == NULL) {
        PyErr_SetString(PyExc_MemoryError, "libffi could not allocate a closure (ffi_closure_alloc): "
                                           "executable memory may be refused here; FASTFFI_TIER=plan uses "
                                           "the static pool only");
        return -1;
    }
    status = ffi_prep_closure_loc(c->closure, &c->cif, closure_handler, t, code);
    if (status != FFI_OK) {
        PyErr_Format(FFIError, "%U: libffi cannot prepare the closure (ffi_prep_closure_loc status %d)", cb->name,
                     (int)status);
        return -1;
    }
    cb->address = code;
    return 0;
}
