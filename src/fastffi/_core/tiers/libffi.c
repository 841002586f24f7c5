/* The libffi tier: the universal fallback.
 *
 * Creation: the ffi_cif is prepared once (libffi_prepare).
 * A call:
 *   1. arity, keywords (call_check);
 *   2. each argument converted into an 8-byte slot on the C stack (struct
 *      arguments point straight at the instance's memory: libffi copies them
 *      -- but with release_gil, after the GIL is dropped, when another thread
 *      may be writing the instance: such calls copy them here first);
 *   3. a struct return gets its new instance first, and libffi writes into it;
 *   4. the closed-library check (call_check_open), ffi_call, with the
 *      GIL/errno handling of tiers/call.h;
 *   5. buffers released (raising instead the exception a callback passed to
 *      the call held: callbacks/scope.c), result boxed (narrow integers
 *      truncated first).
 * Nothing is allocated on the heap except the result object (and the struct
 * copies of a release_gil call when they exceed STACK_COPY_BYTES). */
#include "runtime/convert.h"
#include "runtime/function_spec.h"
#include "tiers/call.h"
#include "tiers/stack.h"
#include "tiers/tier.h"

/* Struct copies of a release_gil call up to this size are made on the C
 * stack; larger ones on the heap (libffi copies by-value structs onto the
 * stack again: the stack is kept for that). */
#define STACK_COPY_BYTES 4096

typedef struct {
    _Alignas(16) unsigned char b[16];
} CopyUnit;

static Py_ssize_t copy_slot(size_t size)
{
    return (Py_ssize_t)((size + sizeof(CopyUnit) - 1) / sizeof(CopyUnit) * sizeof(CopyUnit));
}

static PyObject *call_libffi_copying(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames);
static PyObject *call_libffi_stack_checked(PyObject *self, PyObject *const *args, size_t nargsf,
                                           PyObject *kwnames);

int libffi_prepare(FunctionObject *f, PyObject *const *spec)
{
    /* ffi_structs: tuple of (return, arg1, ..., argN) FFIStructType or None. */
    PyObject *ffi_structs = spec[SPEC_FFI_STRUCTS];
    if (!PyTuple_Check(ffi_structs) || PyTuple_GET_SIZE(ffi_structs) != f->nargs + 1) {
        PyErr_SetString(PyExc_ValueError, "ffi_structs must have one entry per argument plus the return");
        return -1;
    }
    f->ffi_argtypes = PyMem_Calloc((size_t)(f->nargs ? f->nargs : 1), sizeof(ffi_type *));
    if (f->ffi_argtypes == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    ffi_type *rtype = NULL;
    for (Py_ssize_t i = 0; i <= f->nargs; i++) {
        ffi_type *t = ffi_kind_type(i == 0 ? f->retkind : f->argkinds[i - 1], PyTuple_GET_ITEM(ffi_structs, i));
        if (t == NULL)
            return -1;
        if (i == 0)
            rtype = t;
        else
            f->ffi_argtypes[i - 1] = t;
    }
    ffi_status status;
    if (f->nfixed >= 0) {
        /* A variadic call.  ffi_prep_cif_var refuses float and types
         * narrower than int after the fixed arguments (C11 6.5.2.2p6: the
         * callee reads them promoted): narrow integers -- converted, range
         * checked and stored widened in their slot -- are described as int;
         * f32 never reaches here (tiers/variadic.py passes it as f64). */
        for (Py_ssize_t i = f->nfixed; i < f->nargs; i++) {
            int k = f->argkinds[i];
            if (k == KIND_BOOL || k == KIND_I8 || k == KIND_I16 || k == KIND_U8 || k == KIND_U16)
                f->ffi_argtypes[i] = &ffi_type_sint32;
        }
        status = ffi_prep_cif_var(&f->cif, FFI_DEFAULT_ABI, (unsigned)f->nfixed, (unsigned)f->nargs, rtype,
                                  f->ffi_argtypes);
    }
    else
        status = ffi_prep_cif(&f->cif, FFI_DEFAULT_ABI, (unsigned)f->nargs, rtype, f->ffi_argtypes);
    if (status != FFI_OK) {
        PyErr_Format(SignatureError, "%U: libffi cannot prepare this signature (ffi_prep_cif status %d)",
                     f->name, (int)status);
        return -1;
    }
    f->struct_copy_size = 0;
    if (f->flags & FN_RELEASE_GIL)
        for (Py_ssize_t i = 0; i < f->nargs; i++)
            if (f->argkinds[i] == KIND_STRUCT)
                f->struct_copy_size += copy_slot(f->ffi_argtypes[i]->size);
    if (f->struct_copy_size != 0)
        function_set_entry(f, call_libffi_copying);
    f->keepalive = Py_NewRef(ffi_structs);   /* the cif points into their ffi_types */
    if (f->stack_check != 0)
        function_set_entry(f, call_libffi_stack_checked);
    return 0;
}

/* The call itself, shared by both entry points below.  `copies`, when not
 * NULL, has room for struct_copy_size bytes: struct arguments are copied
 * there and libffi reads the copies. */
static inline PyObject *libffi_run(FunctionObject *f, PyObject *const *args, char *copies)
{
    Py_ssize_t n = f->nargs;
    /* Sized by the signature (bounded by FASTFFI_MAX_ARGS at creation);
     * one extra element keeps zero-length arrays legal. */
    Slot slots[n + 1];
    void *values[n + 1];
    /* Wide arguments' values, indexed as the slots (only those used are written). */
    Wide wides[n + 1];
    BufferEntry views[f->nbufargs + 1];
    BufferList bufs = {views, 0};

    for (Py_ssize_t i = 0; i < n; i++) {
        int kind = f->argkinds[i];
        PyObject *o = args[i];
        if (kind == KIND_STRUCT) {
            PyObject *cls = PyTuple_GET_ITEM(f->argstructs, i);
            if ((PyObject *)Py_TYPE(o) != cls) {
                raise_struct_mismatch(cls, o, (ErrCtx){f->name, i + 1});
                goto fail;
            }
            values[i] = ((CDataObject *)o)->ptr;
            if (copies != NULL) {
                /* The value as it is now, while this thread holds the GIL. */
                size_t size = f->ffi_argtypes[i]->size;
                memcpy(copies, values[i], size);
                values[i] = copies;
                copies += copy_slot(size);
            }
            continue;
        }
        if (kind_is_wide(kind)) {
            /* c64/c128/longdouble, 16 bytes each at most. */
            if (convert_wide(kind, o, &wides[i], (ErrCtx){f->name, i + 1}) < 0)
                goto fail;
            values[i] = &wides[i];
            continue;
        }
        if (convert_argument(f, i, kind, o, &slots[i], &bufs) < 0)
            goto fail;
        values[i] = slot_value_address(kind, &slots[i], f->cif.arg_types[i]->size);
    }

    Slot ret;
    Wide wret;
    void *rvalue = &ret;
    if (kind_is_wide(f->retkind)) {
        memset(&wret, 0, sizeof(wret));   /* x87's 10 bytes leave 6 of padding */
        rvalue = &wret;
    }
    PyObject *result = NULL;
    if (f->retkind == KIND_STRUCT) {
        result = cdata_alloc(f->retstruct, f->retsize);
        if (result == NULL)
            goto fail;
        rvalue = ((CDataObject *)result)->ptr;
    }
    if (call_check_open(f) < 0) {
        Py_XDECREF(result);
        goto fail;
    }

    call_enter(f);
    PyThreadState *ts = call_prologue(f);
    ffi_call(&f->cif, f->target, rvalue, values);
    call_epilogue(f, ts);
    call_leave(f);
    if (bufs.count && kind_is_string(f->retkind))
        return box_string_then_release(f, &ret, &bufs);
    /* The exception a callback passed to the call held (callbacks/scope.c). */
    if (bufs.count && buffers_release_after_call(&bufs)) {
        Py_XDECREF(result);
        return NULL;
    }

    if (f->retkind == KIND_STRUCT)
        return result;
    if (rvalue == &wret)
        return box_wide(f->retkind, &wret);
    return box_return(f, &ret);

fail:
    buffers_release(&bufs);
    return NULL;
}

PyObject *call_libffi(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    FunctionObject *f = (FunctionObject *)self;
    if (call_check(f, nargsf, kwnames) < 0)
        return NULL;
    return libffi_run(f, args, NULL);
}

/* release_gil with struct arguments: libffi reads them after the GIL is
 * dropped, so it is given copies taken before. */
static PyObject *libffi_run_copying(FunctionObject *f, PyObject *const *args)
{
    Py_ssize_t size = f->struct_copy_size;
    if (size > STACK_COPY_BYTES) {
        char *copies = PyMem_Malloc((size_t)size);
        if (copies == NULL)
            return PyErr_NoMemory();
        PyObject *r = libffi_run(f, args, copies);
        PyMem_Free(copies);
        return r;
    }
    CopyUnit copies[size / (Py_ssize_t)sizeof(CopyUnit)];
    return libffi_run(f, args, (char *)copies);
}

static PyObject *call_libffi_copying(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    FunctionObject *f = (FunctionObject *)self;
    if (call_check(f, nargsf, kwnames) < 0)
        return NULL;
    return libffi_run_copying(f, args);
}

/* Signatures with a big stack-argument area (tiers/stack.h): libffi allocas
 * it on this thread's stack.  A separate entry, so no other call pays. */
static PyObject *call_libffi_stack_checked(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    FunctionObject *f = (FunctionObject *)self;
    if (call_check(f, nargsf, kwnames) < 0 || stack_check(f) < 0)
        return NULL;
    return f->struct_copy_size != 0 ? libffi_run_copying(f, args) : libffi_run(f, args, NULL);
}
