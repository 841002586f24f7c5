/* Callbacks: C calls Python.
 *
 * A Callback (fastffi.Callback) is made from a CallbackSpec decided in
 * Python (fastffi/tiers/callback.py), as a Function is from a FunctionSpec.
 * C reaches it through an address one of three mechanisms provides -- a slot
 * of the static trampoline pool (callbacks/pool.c), a per-signature JIT thunk
 * or a libffi closure (callbacks/closure.c) -- and every mechanism ends in
 * the one dispatcher, callback_invoke.
 *
 * What a mechanism's code reaches is a CallbackTarget, not the Python object:
 * the target outlives its Callback.  close() (or the last reference dropped)
 * *retires* it: target->cb becomes NULL, and a C call through the old
 * address reports CallbackClosedError and returns the error image instead of
 * running anything.  A retired target keeps its address out of use until
 * CALLBACK_QUARANTINE later retirements (first retired, first reused), so a
 * stale pointer held by C never reaches a newer callback in that window. */
#ifndef FASTFFI_CALLBACK_H
#define FASTFFI_CALLBACK_H

#include "core.h"

/* Retired targets kept out of use before their address may be reused. */
#define CALLBACK_QUARANTINE 4096
/* Every result is written into at least this many bytes: integers widened
 * to 64 bits (as libffi's ffi_arg), f32 in the low 4 bytes. */
#define CALLBACK_RESULT_MIN 8
/* i128/u128 results are 16 bytes (rax:rdx / x0:x1), and so are c128 and
 * longdouble (libffi mechanism only: its closure reads xmm0:xmm1 / st0 / q0
 * back from a buffer of the type's size); c64 fits the minimum. */
#define CALLBACK_RESULT_BYTES(kind) \
    (kind_is_int128(kind) || kind == KIND_C128 || kind == KIND_LONGDOUBLE ? 16 : CALLBACK_RESULT_MIN)

typedef struct CallbackObject CallbackObject;
typedef struct CallbackTarget CallbackTarget;

struct CallbackTarget {
    CallbackObject *cb;          /* NULL once retired; read only with the GIL held */
    uint8_t retkind;             /* Kind of the result (KIND_STRUCT: retsize bytes) */
    Py_ssize_t retsize;
    /* The result C gets when Python cannot run or raised: the converted
     * `error` (zero-filled for None), max(retsize, CALLBACK_RESULT_MIN) bytes. */
    unsigned char *error_image;
    char name[64];               /* for messages after retirement ("cmp") */
    /* The mechanism's own data, and how to give its address back once the
     * quarantine lets go (also called when creation fails half-way). */
    void *mech;
    void (*release)(CallbackTarget *t);
    CallbackTarget *quarantine_next;
};

struct CallbackObject {
    PyObject_HEAD
    CallbackTarget *target;
    void *address;               /* what C calls: fixed for the object's life */
    PyObject *func;              /* the Python callable */
    vectorcallfunc call;         /* how func is called (callback_call_of): chosen once */
    PyObject *onerror;           /* None or callable(exc_type, exc, tb) */
    PyObject *name;              /* str: messages, repr */
    PyObject *signature;         /* str: "int cmp(pointer, pointer)" */
    PyObject *key;               /* hashable: what a function-pointer parameter's type is compared by */
    PyObject *restype, *argtypes;
    PyObject *retstruct;         /* struct class of a by-value result, else NULL */
    PyObject *retfunction;       /* a function-pointer result: (key, type text), else NULL */
    PyObject *argstructs;        /* tuple: struct class or None per argument */
    PyObject *explanation;       /* str, or a callable producing it on first use */
    PyObject *inspect;           /* inspect.signature(cb): a callable making it, then what it made */
    int inspect_made;
    PyObject *keepalive;         /* objects the mechanism's data points into (code region ...) */
    PyObject *result_where;      /* str: "callback 'cmp' result", the prefix of result messages */
    PyObject *weakreflist;
    Py_ssize_t *structsizes;     /* per argument, a by-value struct's bytes; NULL without struct arguments */
    int mechanism;               /* CallbackMechanism: its row of the table below */
    Py_ssize_t nargs;
    uint8_t argkinds[FASTFFI_MAX_ARGS];  /* as boxed for func: a non-const char * is KIND_POINTER */
};

extern PyTypeObject Callback_Type;
#define Callback_Check(o) (Py_TYPE(o) == &Callback_Type)
/* Raised for a closed Callback (fastffi.CallbackClosedError, from _init). */
extern PyObject *CallbackClosedError;

/* The dispatcher every mechanism calls, from any thread, with or without
 * the GIL.  argp[i] points to argument i in its C representation (a narrow
 * integer at its own width, a struct by value as its bytes: libffi's
 * convention).  Writes the result to `result`: CALLBACK_RESULT_MIN bytes for
 * a scalar, exactly retsize for a struct (libffi's buffer for a struct
 * returned in memory is the caller's, of that size), nothing for void; never
 * fails: errors go where
 * docs/callbacks.md says, and C gets the error image.  errno is preserved. */
void callback_invoke(CallbackTarget *t, void *const *argp, void *result);

/* The same for a signature whose arguments are all scalars in registers
 * (the static pool's direct path, callbacks/pool.c): argument i is at
 * frame + off[i], a narrow integer in the low bytes of its register's slot
 * (little-endian: the low bytes come first). */
void callback_invoke_direct(CallbackTarget *t, const unsigned char *frame, const uint8_t *off, void *result);

/* How to call `func` for the callback's life: a Python function's own
 * vectorcall (read once: its result and the error indicator always agree,
 * so PyObject_Vectorcall's consistency check has nothing to find), else a
 * function doing PyObject_Vectorcall.  (3.12+ let an extension replace a
 * function's vectorcall, PyFunction_SetVectorcall; one replaced after the
 * callback was made is not seen -- CPython's own still runs the function.) */
vectorcallfunc callback_call_of(PyObject *func);

/* For a mechanism's own fast path (callbacks/thunk.c), the dispatcher's
 * steps it leaves to callback.c: converting func's result with the checks of
 * a call's argument into `out` (-1 with an exception set, `out` untouched),
 * and the error rules for the exception set now (onerror, the holding call,
 * sys.unraisablehook), which write what C gets into `result`.  Both with the
 * GIL held; `t` is the target cb had when the invocation began (func may
 * have closed cb since: its retired target stays in the quarantine). */
int callback_convert_result(CallbackObject *cb, CallbackTarget *t, PyObject *o, void *out);
void callback_fail(CallbackObject *cb, CallbackTarget *t, void *result);

/* The mechanisms, as data (like tiers/tier.h): the spec's mechanism code
 * indexes one table of {name, prepare}.  prepare fills cb->address,
 * cb->target->mech and ->release from the spec, or returns -1 with an
 * exception set.  X(CODE, "name", prepare), fastest first. */
#define FASTFFI_CALLBACK_MECHANISMS(X)           \
    X(JIT, "jit", thunk_prepare)                 \
    X(PLAN, "plan", pool_prepare)                \
    X(LIBFFI, "libffi", closure_prepare)

typedef enum {
#define X(code, name, prepare) CALLBACK_##code,
    FASTFFI_CALLBACK_MECHANISMS(X)
#undef X
    CALLBACK__COUNT
} CallbackMechanism;

int thunk_prepare(CallbackObject *cb, PyObject *const *spec);     /* tiers/jit's thunks (callbacks/thunk.c) */
int thunk_add_runtime(PyObject *module);   /* _core.THUNK_RUNTIME, _core._ThunkBlock (callbacks/thunk.c) */
int pool_prepare(CallbackObject *cb, PyObject *const *spec);      /* callbacks/pool.c */
int closure_prepare(CallbackObject *cb, PyObject *const *spec);   /* callbacks/closure.c */

/* Held exceptions (callbacks/scope.c): an exception `func` raised while
 * the callback runs inside a fastffi call that was passed this Callback (or
 * a Python callable wrapped for that call) on this thread.  Takes the
 * current exception: returns 1 when that call holds it (it is raised from
 * the call once C returns; the first one only -- later ones go to
 * sys.unraisablehook, which this does), 0 when no such call is running on
 * this thread (the exception is left set for the caller to report). */
int callback_scope_hold(CallbackObject *cb);

/* Slots of the static pool not in use (live or quarantined). */
Py_ssize_t pool_available(void);

/* Module-level functions and constants of the callback runtime. */
extern PyMethodDef callback_methods[];
int callback_add_constants(PyObject *module);
int callback_ready(void);

#endif
