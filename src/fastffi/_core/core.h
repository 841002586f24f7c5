/* Shared declarations of the C core.  The core is the per-call runtime only:
 * everything decided once per signature (parsing, layout, classification,
 * tier choice) happens in Python and arrives here as flat, immutable data. */
#ifndef FASTFFI_CORE_H
#define FASTFFI_CORE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <ffi.h>
#include <stddef.h>
#include <stdint.h>

#include "compat.h"
#include "kinds.h"

/* Arguments beyond this are refused at creation: it bounds the stack arrays
 * the call paths use instead of heap allocation. */
#define FASTFFI_MAX_ARGS 256
/* Per variadic declaration: the per-type-tuple Functions its calls find
 * without leaving C (runtime/variadic.c). */
#define FASTFFI_VARIADIC_CACHE 8

/* ---- CData: memory seen from Python (struct, union, array, box instances) ---- */
typedef struct {
    PyObject_HEAD
    char *ptr;              /* first byte */
    Py_ssize_t size;        /* bytes */
    PyObject *owner;        /* keeps `ptr` alive for views; NULL when owned or foreign */
    PyObject *keep;         /* dict {address: object} or NULL: what pointers stored in this
                             * memory point into (kept on the root, see cdata_keep) */
    Py_ssize_t itemsize;    /* buffer protocol: element size, count and format */
    Py_ssize_t nitems;
    char format[8];
    char owns;              /* ptr was allocated by us and is freed with the object */
} CDataObject;

extern PyTypeObject CData_Type;
#define CData_Check(o) PyObject_TypeCheck((o), &CData_Type)
/* A new zeroed instance of `cls` (a CData subclass) owning `size` bytes. */
PyObject *cdata_alloc(PyTypeObject *cls, Py_ssize_t size);
/* Keep `obj` alive as long as the memory holding the pointer at `addr` (a
 * byte of `cdata`): NULL drops what was kept for that pointer.  -1 on error. */
int cdata_keep(PyObject *cdata, char *addr, PyObject *obj);
/* Bytes [dst, dst+n) of `dst_obj` were overwritten from [src, src+n): drop
 * what was kept for pointers in the destination and, when `src_obj` is a
 * CData, keep what it kept for the pointers copied.  Either object may be
 * NULL or not a CData (raw memory keeps nothing).  -1 on error. */
int cdata_keep_copy(PyObject *dst_obj, char *dst, PyObject *src_obj, const char *src, Py_ssize_t n);

/* ---- Library handle: dlopen'ed object, closed flag, in-flight count ---- */
typedef struct {
    PyObject_HEAD
    void *handle;
    PyObject *name;         /* as given by the user, for messages */
    /* 1 while open (close() drops it) plus one per call running: whoever
     * drops it to 0 does the dlclose.  Only touched with the GIL held. */
    Py_ssize_t inflight;
    char closed;            /* close() was called: every call refuses */
    char unloaded;          /* dlclose() done (deferred until inflight == 0) */
} LibraryObject;

extern PyTypeObject Library_Type;
/* The last reference to an open-or-running library was dropped (inflight
 * reached 0, with the GIL held): dlclose now.  Out of line: a cold path. */
void library_last_call_returned(LibraryObject *lib);

/* ---- Function: the callable ---- */
enum {
    FN_RELEASE_GIL = 1,
    FN_USE_ERRNO = 2,
    FN_CALL_OPTIONS = FN_RELEASE_GIL | FN_USE_ERRNO,
    /* Not a call option: the JIT was allowed when this function was created,
     * so fn.map() may run an emitted loop (fastffi.batch). */
    FN_JIT_ALLOWED = 4,
    /* Not a call option: the result is a non-const `char *`, returned as a
     * fastffi.CString carrying its address (runtime/cstring.c). */
    FN_STRING_ADDRESS = 8,
    /* Not a call option: the result is a function pointer, returned as a
     * Function of its type made by f->result_maker (None for NULL). */
    FN_FUNCTION_RESULT = 16,
    /* Not a call option: the result is `T *` for a struct/union T, returned
     * as f->result_maker(address), the type's fastffi Pointer class (an int
     * subclass; NULL too, as 0).  Read, with FN_FUNCTION_RESULT, in the
     * pointer case of boxing only. */
    FN_TYPED_POINTER_RESULT = 32,
    FN_MADE_RESULT = FN_FUNCTION_RESULT | FN_TYPED_POINTER_RESULT,
    /* Set by make_function, not by the spec: the typed pointer class adds
     * nothing to int's layout, so a result is made by copying the address's
     * int into an instance (compat_long_subtype_copy), not by calling it. */
    FN_TYPED_POINTER_COPY = 64,
};

/* A Function is an immutable heap *type* whose metatype is Function_Type, and
 * its tp_vectorcall slot is the tier's entry point.  Why a type: CPython 3.11+
 * specialises calls only to exact builtin functions and to immutable types
 * with a vectorcall entry (PRECALL_BUILTIN_CLASS / CALL_BUILTIN_CLASS); any
 * other callable pays the generic call path (~90 instructions measured on
 * 3.11, BENCHMARKS.md).  A builtin function object cannot carry fn.tier or
 * fn.explain(); a type can, through its metatype.  Its data follows the heap
 * type header. */
typedef struct FunctionObject FunctionObject;
struct FunctionObject {
    PyHeapTypeObject type;       /* type.ht_type.tp_vectorcall: the tier's entry */
    void (*target)(void);
    LibraryObject *lib;          /* NULL for functions made from a raw address */
    const char *closed;          /* &lib->closed, or a constant 0: one load per call */
    Py_ssize_t *inflight;        /* &lib->inflight, or a counter that never reaches 0 (tiers/call.h) */
    Py_ssize_t nargs;
    int flags;
    int nbufargs;                /* pointer/string arguments: Py_buffer slots a call may need */
    uint8_t retkind;
    uint8_t argkinds[FASTFFI_MAX_ARGS];
    uint8_t argchecks[FASTFFI_MAX_ARGS]; /* ARG_* per argument (runtime/convert.h) */
    PyObject *argpointees;       /* tuple: pointee description or None per argument */
    PyTypeObject *retstruct;     /* struct class of a by-value return */
    Py_ssize_t retsize;
    PyObject *argstructs;        /* tuple: struct class or None per argument */
    /* libffi tier */
    ffi_cif cif;
    ffi_type **ffi_argtypes;
    Py_ssize_t struct_copy_size; /* release_gil: bytes of by-value struct copies a call makes */
    /* plan tier: opaque, owned by tiers/plan.c */
    void *plan;
    /* Python-level description */
    PyObject *name;
    PyObject *restype;
    PyObject *argtypes;
    int tier;                    /* TierCode: its row of the tier table (tiers/tier.h) */
    PyObject *explanation;       /* str, or a callable producing it on first use */
    /* inspect.signature(fn): the callable making it (tiers/introspection.py)
     * until first use, then the inspect.Signature it made (signature_made). */
    PyObject *signature;
    int signature_made;
    PyObject *keepalive;         /* objects whose memory the tier data points into */
    PyObject *result_maker;      /* FN_MADE_RESULT: address (int) -> Function / Pointer, else NULL */
    /* Bytes of stack arguments checked against the calling thread's free
     * stack before each call, or 0 (tiers/stack.h). */
    Py_ssize_t stack_check;
    /* Variadic functions (runtime/variadic.c).  nfixed: the fixed arguments
     * of a variadic call, or -1.  variadic: on a variadic *declaration*, the
     * Python object that makes the per-type-tuple Functions calls dispatch
     * to (fastffi/tiers/variadic.py), else NULL; vcache holds the last few,
     * keyed by the promoted kinds of the extra arguments. */
    Py_ssize_t nfixed;
    PyObject *variadic;
    struct { uint64_t key; PyObject *fn; } vcache[FASTFFI_VARIADIC_CACHE];
    unsigned vnext;
};

/* ---- variadic declarations (runtime/variadic.c) ---- */
int variadic_prepare(FunctionObject *f, PyObject *variadic);
void variadic_clear(FunctionObject *f);
int variadic_traverse(FunctionObject *f, visitproc visit, void *arg);
PyObject *variadic_method(FunctionObject *f, PyObject *args);
PyObject *call_variadic(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames);

/* A pointer result that f->result_maker makes an object of (FN_MADE_RESULT):
 * a function pointer's Function (None for NULL), a typed pointer's Pointer
 * (runtime/function.c). */
PyObject *function_result(const FunctionObject *f, void *address);

/* The entry point a call goes through. */
static inline void function_set_entry(FunctionObject *f, vectorcallfunc entry)
{
    f->type.ht_type.tp_vectorcall = entry;
}

extern PyTypeObject Function_Type;   /* the metatype */
#define Function_Check(o) (Py_TYPE(o) == &Function_Type)

/* ---- what the package hands the core at import (runtime/init.c) ---- */
/* The exception classes of fastffi.errors, and fastffi.batch's entry points
 * that fn.map()/fn.shared() forward to.  NULL until _core._init(). */
extern PyObject *FFIError, *LibraryClosedError, *LibraryError, *SymbolError, *SignatureError;
extern PyObject *batch_map, *batch_shared;
/* 0 once _init has run, else -1 with RuntimeError set. */
int core_require_init(void);
extern PyMethodDef init_methods[];

/* ---- messages (runtime/convert.c) ---- */
int convert_init(void);
PyObject *raise_arity(FunctionObject *f, Py_ssize_t given);
PyObject *raise_kwargs(FunctionObject *f);
PyObject *raise_closed(FunctionObject *f);

/* ---- errno capture: the thread's copy tiers/call.h swaps in and out around
 * a call; get_errno/set_errno read and write it (runtime/memory.c) ---- */
extern _Thread_local int fastffi_saved_errno;
/* errno from and to that copy, for tiers/call.h: out of line (not inline
 * there) because inlined, the thread-local's address -- a __tls_get_addr
 * call in a shared object -- was computed by GCC 16 ahead of the use_errno
 * test, on every call of every function; out of line only use_errno calls
 * pay for it (tests/test_plan_entry.py). */
void call_errno_in(void);
void call_errno_out(void);

/* ---- libffi tier's struct descriptions (tiers/ffi_struct.c) ---- */
ffi_type *ffi_struct_type_get(PyObject *obj);
/* libffi's type for a kind: a scalar's from ffi_kind_types, a struct's from its
 * FFIStructType `struct_desc`; NULL with an exception set when that fails. */
extern ffi_type *const ffi_kind_types[KIND__COUNT];
ffi_type *ffi_kind_type(int kind, PyObject *struct_desc);
extern PyTypeObject FFIStructType_Type;

/* ---- JIT tier (tiers/execmem.c, tiers/jit.c) ---- */
extern PyTypeObject CodeRegion_Type;
void *code_region_address(PyObject *region, size_t offset);
int jit_add_runtime(PyObject *module);
extern PyMethodDef execmem_methods[];

/* ---- module-level functions from runtime/memory.c ---- */
extern PyMethodDef memory_methods[];
extern PyTypeObject Reader_Type;   /* runtime/memory.c */

#endif
