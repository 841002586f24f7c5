/* The JIT tier's run-time support: what generated code calls when it leaves
 * its inline fast paths, and the facts the emitters (fastffi/tiers/jit/) need --
 * addresses of those helpers and of CPython objects, and object layouts.
 *
 * Generated code is a Function's whole vectorcall entry.  It reads the
 * target address and the closed flag from the Function it is called with, so
 * one piece of code serves every function of the same shape and is never
 * patched after it is sealed.  Everything it cannot do inline it hands to the
 * helpers below, which use the same converters and messages as every other
 * tier (convert.h, tiers/call.h). */
#include "runtime/convert.h"
#include "runtime/function_spec.h"
#include "tiers/call.h"
#include "tiers/tier.h"

#include <stddef.h>

/* The entry is the generated code at spec.entry in spec.code.  The plan is
 * prepared too: a JIT function keeps a complete description of its call
 * (fn.map()'s plan loop runs it), and the code itself reads only f's fields. */
int jit_prepare(FunctionObject *f, PyObject *const *spec)
{
    Py_ssize_t offset;
    if (spec_ssize(spec, SPEC_ENTRY, &offset) < 0)
        return -1;
    void *code = code_region_address(spec[SPEC_CODE], (size_t)offset);
    if (code == NULL || plan_prepare(f, spec) < 0)
        return -1;
    f->keepalive = Py_NewRef(spec[SPEC_CODE]);
    function_set_entry(f, (vectorcallfunc)code);
    return 0;
}

/* The precondition that failed (keywords, arity). */
static PyObject *fastffi_jit_reject(PyObject *self, size_t nargsf, PyObject *kwnames)
{
    FunctionObject *f = (FunctionObject *)self;
    if (call_check(f, nargsf, kwnames) == 0 && call_check_open(f) == 0)
        PyErr_SetString(PyExc_SystemError, "fastffi: JIT precondition failed without a reason");
    return NULL;
}

/* The library was found closed after the last argument conversion (the
 * check of tiers/call.h's call_check_open, made inline): release what the
 * conversions acquired and raise.  `bufs` may be NULL (no pointer argument). */
static PyObject *fastffi_jit_closed(PyObject *self, BufferList *bufs)
{
    raise_closed((FunctionObject *)self);
    if (bufs != NULL)
        buffers_release(bufs);   /* after: a held exception is reported, this one raised */
    return NULL;
}

/* Argument i the slow way: every kind, every Python type, the argument's
 * checks (fn_argchecks), exact errors. */
static int fastffi_jit_convert(PyObject *self, Py_ssize_t i, PyObject *o, Slot *out, BufferList *bufs)
{
    FunctionObject *f = (FunctionObject *)self;
    return convert_argument(f, i, f->argkinds[i], o, out, bufs);
}

/* Nonzero: a callback passed to the call raised while C ran it, and that
 * exception is now set (callbacks/scope.c): the call returns NULL.  An
 * argument's failure exit ignores it (nothing ran). */
static int fastffi_jit_release(BufferList *bufs)
{
    return buffers_release(bufs);
}

/* Box a return value the inline code does not box itself (strings). */
static PyObject *fastffi_jit_box(PyObject *self, uint64_t raw)
{
    Slot s;
    s.u = raw;
    return box_return((FunctionObject *)self, &s);
}

/* A string result with buffers held: boxed before they are released (a
 * result may point into a str argument's copy), NULL if a callback raised. */
static PyObject *fastffi_jit_box_release(PyObject *self, uint64_t raw, BufferList *bufs)
{
    Slot s;
    s.u = raw;
    return box_string_then_release((FunctionObject *)self, &s, bufs);
}

static PyObject *fastffi_jit_none(void)
{
    Py_RETURN_NONE;
}

/* Around the call when release_gil or use_errno is set: the same steps as
 * every tier, errno saved first thing after the call. */
static PyThreadState *fastffi_jit_enter(PyObject *self)
{
    return call_prologue((FunctionObject *)self);
}

static void fastffi_jit_leave(PyObject *self, PyThreadState *ts)
{
    call_epilogue((FunctionObject *)self, ts);
}

/* The generated code dropped the in-flight count to 0 (inline, as
 * call_leave does): the library was closed during the call. */
static void fastffi_jit_last_call(PyObject *self)
{
    library_last_call_returned(((FunctionObject *)self)->lib);
}

#define ADDR(name, value) \
    if (add_int(d, name, PyLong_FromVoidPtr((void *)(value))) < 0) goto fail;
#define OFFSET(name, value) \
    if (add_int(d, name, PyLong_FromSsize_t((Py_ssize_t)(value))) < 0) goto fail;

static int add_int(PyObject *d, const char *name, PyObject *v)
{
    if (v == NULL)
        return -1;
    int r = PyDict_SetItemString(d, name, v);
    Py_DECREF(v);
    return r;
}

int jit_add_runtime(PyObject *m)
{
    PyObject *d = PyDict_New();
    if (d == NULL)
        return -1;
    /* helpers */
    ADDR("reject", fastffi_jit_reject);
    ADDR("closed", fastffi_jit_closed);
    ADDR("convert", fastffi_jit_convert);
    ADDR("release", fastffi_jit_release);
    ADDR("box", fastffi_jit_box);
    ADDR("box_release", fastffi_jit_box_release);
    ADDR("none", fastffi_jit_none);
    ADDR("enter", fastffi_jit_enter);
    ADDR("leave", fastffi_jit_leave);
    ADDR("last_call", fastffi_jit_last_call);
    ADDR("PyLong_FromLong", PyLong_FromLong);
    ADDR("PyLong_FromLongLong", PyLong_FromLongLong);
    ADDR("PyLong_FromUnsignedLongLong", PyLong_FromUnsignedLongLong);
    ADDR("PyFloat_FromDouble", PyFloat_FromDouble);
    ADDR("PyBool_FromLong", PyBool_FromLong);
    /* objects */
    ADDR("PyLong_Type", &PyLong_Type);
    ADDR("PyFloat_Type", &PyFloat_Type);
    ADDR("PyBytes_Type", &PyBytes_Type);
    ADDR("Py_None", Py_None);
    ADDR("Py_True", Py_True);
    ADDR("Py_False", Py_False);
    /* layouts */
    OFFSET("ob_type", offsetof(PyObject, ob_type));
    OFFSET("ob_size", offsetof(PyVarObject, ob_size));
    OFFSET("long_digit0", COMPAT_LONG_DIGIT0_OFFSET);
#if COMPAT_HAS_LONG_TAG
    OFFSET("long_tag", COMPAT_LONG_TAG_OFFSET);
    OFFSET("long_sign_mask", COMPAT_LONG_SIGN_MASK);
    OFFSET("long_compact_below", COMPAT_LONG_COMPACT_BELOW);
#endif
    OFFSET("float_value", offsetof(PyFloatObject, ob_fval));
    OFFSET("bytes_data", offsetof(PyBytesObject, ob_sval));
    OFFSET("fn_target", offsetof(FunctionObject, target));
    OFFSET("fn_closed", offsetof(FunctionObject, closed));
    OFFSET("fn_inflight", offsetof(FunctionObject, inflight));
    OFFSET("fn_flags", offsetof(FunctionObject, flags));
    OFFSET("fn_argchecks", offsetof(FunctionObject, argchecks));
    OFFSET("sizeof_Py_buffer", sizeof(BufferEntry));   /* a Py_buffer or a scope record */
    OFFSET("bufs_views", offsetof(BufferList, views));
    OFFSET("bufs_count", offsetof(BufferList, count));
    OFFSET("sizeof_BufferList", sizeof(BufferList));
    OFFSET("vectorcall_nargs_mask_bit", 8 * sizeof(size_t) - 1);
    PyObject *layout = PyUnicode_FromString(COMPAT_OBJECT_LAYOUT);
    if (layout == NULL || PyDict_SetItemString(d, "object_layout", layout) < 0) {
        Py_XDECREF(layout);
        goto fail;
    }
    Py_DECREF(layout);
    if (PyModule_AddObject(m, "JIT_RUNTIME", d) < 0)
        goto fail;
    return 0;
fail:
    Py_DECREF(d);
    return -1;
}
#undef ADDR
#undef OFFSET
