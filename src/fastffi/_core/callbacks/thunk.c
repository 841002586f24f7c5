/* The `jit` callback mechanism: a per-signature thunk emitted by
 * fastffi/tiers/jit/thunk.py, which boxes the argument registers straight
 * into a vectorcall argument array, calls `func` and unboxes the result into
 * the return register -- a straight line when this thread holds the GIL.
 *
 * Code is shared per call shape.  A shape's code is a *block*: the body,
 * then THUNK_STUBS stubs of a few instructions each.  Stub i loads the
 * address of data word i (an ordinary read-write array owned by the block,
 * never executable) into a scratch register and jumps to the body, which
 * reads its CallbackTarget (and how to call func) from that word.  A
 * callback's address is its stub: creating one writes a data word, never
 * code -- a sealed page is never written again (tiers/execmem.c), so a
 * per-callback prologue would cost a fresh mapping (a page, an mprotect) per
 * callback, and PC-relative data beside shared code cannot be per callback.
 *
 * Lifetime: a retired callback keeps its stub through the quarantine (a call
 * reaches callback_invoke, which reports CallbackClosedError); then its word
 * is cleared (a stale call reaches thunk_generic with NULL: reported, C gets
 * 0) and the stub may serve a newer callback, as the issue documents for
 * every mechanism past the quarantine.  A block is freed, and its pages
 * unmapped, once none of its stubs is held by a live or quarantined target.
 *
 * The body runs its straight line on any thread: thunk_enter takes the GIL
 * when this thread does not hold it (callbacks/threads.c), thunk_leave gives
 * it back.  It leaves the straight line for the helpers below, which reuse
 * callback.c's conversion and error handling (callback_convert_result,
 * callback_fail), and for the generic dispatcher callback_invoke when the
 * interpreter is finalizing, the callback is retired, or the recursion limit
 * is reached. */
#include <errno.h>

#include "callbacks/callback.h"
#include "callbacks/callback_spec.h"
#include "callbacks/threads.h"

/* Stubs in one block: 64 data words (1 KiB) and 64 stubs of 32 bytes
 * (tiers/jit/thunk.py's STUB_SIZE), with the body in one or two pages. */
#define THUNK_STUBS 64

/* What stub i's data word points at: the target (NULL when the stub is
 * free) and how the body calls func (chosen once, at creation). */
typedef struct {
    CallbackTarget *target;
    vectorcallfunc call;
} ThunkWord;

typedef struct {
    PyObject_HEAD
    ThunkWord *words;          /* THUNK_STUBS data words */
    PyObject *region;          /* the sealed CodeRegion holding body and stubs (None until installed) */
    size_t stub_offset;        /* offset of stub 0 in the region */
    size_t stub_size;          /* bytes between stubs */
    int nfree;
    int next;                  /* where the search for a free stub starts */
    PyObject *weakreflist;
} ThunkBlockObject;

static PyTypeObject ThunkBlock_Type;

/* What a target's mechanism data is: its block (a reference) and stub. */
typedef struct {
    ThunkBlockObject *block;
    int index;
} ThunkStub;

/* ---- the helpers the body calls ---- */

/* What the body keeps for thunk_leave, in its frame (THUNK_STATE bytes). */
typedef struct {
    PyThreadState *ts;
    ThreadEntry entry;         /* the GIL taken by thunk_enter, given back by thunk_leave */
    int *errnop;               /* &errno: the same address for the whole call */
    int saved_errno;
} ThunkState;

/* The straight line may run: the GIL held by this thread (taken here when
 * it is not: a GIL-released call, a thread C created -- callbacks/
 * threads.c), the callback live and the recursion limit not reached -- C
 * re-entering Python (a comparator that sorts) counts as recursion, as in
 * callback.c.  Returns the Callback, referenced (func may close it or drop
 * its last reference), with errno saved; NULL (the GIL as it was, errno
 * untouched) sends the body to thunk_generic, which handles every other case
 * (finalization, a retired callback, and the RecursionError it raises). */
static CallbackObject *thunk_enter(CallbackTarget *t, ThunkState *st)
{
    if (t == NULL)
        return NULL;
    st->errnop = &errno;
    st->saved_errno = *st->errnop;
    PyThreadState *ts = thread_enter(&st->entry);
    if (ts == NULL)
        return NULL;
    CallbackObject *cb = t->cb;   /* read with the GIL */
    if (cb == NULL || compat_recursion_enter(ts) < 0) {
        thread_leave(&st->entry);
        *st->errnop = st->saved_errno;
        return NULL;
    }
    st->ts = ts;
    Py_INCREF(cb);
    return cb;
}

static void thunk_leave(CallbackObject *cb, ThunkState *st)
{
    compat_recursion_leave(st->ts);
    Py_DECREF(cb);
    thread_leave(&st->entry);
    *st->errnop = st->saved_errno;
}

/* func raised (value NULL), or returned what the inline checks do not
 * convert (t: the target the body started with -- func may have closed cb): the full conversion, and on failure callback.c's error rules
 * (onerror, the holding call, sys.unraisablehook; C gets the error image). */
static void thunk_result(CallbackObject *cb, CallbackTarget *t, PyObject *value, void *result)
{
    if (value == NULL || callback_convert_result(cb, t, value, result) < 0)
        callback_fail(cb, t, result);
}

/* Boxing argument n failed: the n boxed before it are released. */
static void thunk_box_failed(CallbackObject *cb, CallbackTarget *t, PyObject **boxed, Py_ssize_t n, void *result)
{
    while (n > 0)
        Py_DECREF(boxed[--n]);
    callback_fail(cb, t, result);
}

/* A `const char *` argument arrives as str (None for NULL), as callback.c
 * boxes it. */
static PyObject *thunk_box_string(const char *s)
{
    if (s == NULL)
        Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape");
}

/* Everything off the straight line: the generic dispatcher, with argp
 * pointing into the body's frame where the argument registers were spilled
 * (a narrow integer's bytes are the low ones of its slot: little-endian).
 * A stub whose callback was released after its quarantine (t NULL) has no
 * signature left to answer with: C gets zero, and the call is reported. */
static void thunk_generic(CallbackTarget *t, void *const *argp, void *result)
{
    if (t != NULL) {
        callback_invoke(t, argp, result);
        return;
    }
    int saved_errno = errno;
    memset(result, 0, CALLBACK_RESULT_MIN);
    PyGILState_STATE s = PyGILState_Ensure();
    PyErr_SetString(CallbackClosedError, "a callback thunk was called after its callback was closed and its "
                                         "address released; C got 0");
    PyErr_WriteUnraisable(NULL);
    PyGILState_Release(s);
    errno = saved_errno;
}

/* ---- the block object ---- */

static PyObject *block_new(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
    if (!PyArg_ParseTuple(args, ":_ThunkBlock") || (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "_ThunkBlock takes no arguments");
        return NULL;
    }
    ThunkBlockObject *b = (ThunkBlockObject *)cls->tp_alloc(cls, 0);
    if (b == NULL)
        return NULL;
    b->words = PyMem_RawCalloc(THUNK_STUBS, sizeof(ThunkWord));
    if (b->words == NULL) {
        Py_DECREF(b);
        return PyErr_NoMemory();
    }
    b->region = Py_NewRef(Py_None);
    b->nfree = THUNK_STUBS;
    return (PyObject *)b;
}

/* Only reached when no target uses a stub (each holds a reference): no C
 * call can be running in the region or reading a word. */
static void block_dealloc(ThunkBlockObject *b)
{
    if (b->weakreflist != NULL)
        PyObject_ClearWeakRefs((PyObject *)b);
    PyMem_RawFree(b->words);
    Py_XDECREF(b->region);
    Py_TYPE(b)->tp_free((PyObject *)b);
}

/* install(region, stub_offset, stub_size): the sealed code whose stubs read
 * this block's words.  Once. */
static PyObject *block_install(ThunkBlockObject *b, PyObject *args)
{
    PyObject *region;
    Py_ssize_t offset, size;
    if (!PyArg_ParseTuple(args, "O!nn:install", &CodeRegion_Type, &region, &offset, &size))
        return NULL;
    if (b->region != Py_None) {
        PyErr_SetString(PyExc_ValueError, "_ThunkBlock.install: already installed");
        return NULL;
    }
    if (offset < 0 || size <= 0 || code_region_address(region, (size_t)(offset + size * (THUNK_STUBS - 1))) == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "_ThunkBlock.install: stubs outside the region");
        return NULL;
    }
    Py_SETREF(b->region, Py_NewRef(region));
    b->stub_offset = (size_t)offset;
    b->stub_size = (size_t)size;
    Py_RETURN_NONE;
}

static PyObject *block_get_words(ThunkBlockObject *b, void *c) { return PyLong_FromVoidPtr(b->words); }
static PyObject *block_get_free(ThunkBlockObject *b, void *c) { return PyLong_FromLong(b->nfree); }
static PyObject *block_get_region(ThunkBlockObject *b, void *c) { return Py_NewRef(b->region); }

static PyGetSetDef block_getset[] = {
    {"words", (getter)block_get_words, NULL, "address of the data words the stubs read (ThunkWord each)", NULL},
    {"free", (getter)block_get_free, NULL, "stubs not in use (live or quarantined callbacks hold theirs)", NULL},
    {"region", (getter)block_get_region, NULL, "the CodeRegion (None until installed)", NULL},
    {NULL},
};

static PyMethodDef block_methods[] = {
    {"install", (PyCFunction)block_install, METH_VARARGS, "install(region, stub_offset, stub_size)"},
    {NULL},
};

static PyTypeObject ThunkBlock_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fastffi._core._ThunkBlock",
    .tp_basicsize = sizeof(ThunkBlockObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The data words of one block of callback thunk stubs, and the region holding their code.",
    .tp_new = block_new,
    .tp_dealloc = (destructor)block_dealloc,
    .tp_getset = block_getset,
    .tp_methods = block_methods,
    .tp_weaklistoffset = offsetof(ThunkBlockObject, weakreflist),
};

/* ---- the mechanism ---- */

/* Called with the GIL held once the quarantine lets go (or creation failed):
 * the stub's word is cleared -- a stale call through it reaches
 * thunk_generic with NULL -- and the stub is free for a new callback. */
static void thunk_release(CallbackTarget *t)
{
    ThunkStub *s = t->mech;
    if (s == NULL)
        return;
    s->block->words[s->index].target = NULL;
    s->block->nfree++;
    Py_DECREF(s->block);
    PyMem_RawFree(s);
    t->mech = NULL;
}

/* spec.code gives the block (tiers/jit/thunk.py's BlockSource: called, it
 * returns an installed _ThunkBlock of this callback's shape with a free
 * stub); the first free stub becomes the callback's address. */
int thunk_prepare(CallbackObject *cb, PyObject *const *spec)
{
    PyObject *code = PyObject_CallNoArgs(spec[CBSPEC_CODE]);
    if (code == NULL)
        return -1;
    if (Py_TYPE(code) != &ThunkBlock_Type || ((ThunkBlockObject *)code)->region == Py_None
        || ((ThunkBlockObject *)code)->nfree == 0) {
        PyErr_SetString(PyExc_TypeError, "make_callback: a jit callback's spec.code must give an installed "
                                         "_ThunkBlock with a free stub");
        Py_DECREF(code);
        return -1;
    }
    ThunkBlockObject *b = (ThunkBlockObject *)code;
    int i = b->next;
    while (b->words[i].target != NULL)
        i = (i + 1) % THUNK_STUBS;
    ThunkStub *s = PyMem_RawMalloc(sizeof(ThunkStub));
    if (s == NULL) {
        Py_DECREF(code);
        PyErr_NoMemory();
        return -1;
    }
    CallbackTarget *t = cb->target;
    s->block = b;   /* the reference the call gave */
    s->index = i;
    b->words[i].target = t;
    b->words[i].call = cb->call;   /* callback.c's choice (callback_call_of) */
    b->nfree--;
    b->next = (i + 1) % THUNK_STUBS;
    t->mech = s;
    t->release = thunk_release;
    cb->address = code_region_address(b->region, b->stub_offset + b->stub_size * (size_t)i);
    return cb->address == NULL ? -1 : 0;
}

/* ---- what the emitter needs: _core.THUNK_RUNTIME ---- */

static int add_address(PyObject *d, const char *name, PyObject *v)
{
    if (v == NULL)
        return -1;
    int r = PyDict_SetItemString(d, name, v);
    Py_DECREF(v);
    return r;
}

int thunk_add_runtime(PyObject *m)
{
    if (PyType_Ready(&ThunkBlock_Type) < 0)
        return -1;
    PyObject *d = PyDict_New();
    if (d == NULL)
        return -1;
#define ADDR(name, value) \
    if (add_address(d, name, PyLong_FromVoidPtr((void *)(value))) < 0) goto fail;
#define OFFSET(name, value) \
    if (add_address(d, name, PyLong_FromSsize_t((Py_ssize_t)(value))) < 0) goto fail;
    ADDR("thunk_enter", thunk_enter);
    ADDR("thunk_leave", thunk_leave);
    ADDR("thunk_result", thunk_result);
    ADDR("thunk_box_failed", thunk_box_failed);
    ADDR("thunk_box_string", thunk_box_string);
    ADDR("thunk_generic", thunk_generic);
    ADDR("dealloc", compat_dealloc);
    OFFSET("cb_func", offsetof(CallbackObject, func));
    OFFSET("thunk_stubs", THUNK_STUBS);
    OFFSET("sizeof_ThunkState", sizeof(ThunkState));
    OFFSET("sizeof_ThunkWord", sizeof(ThunkWord));
    OFFSET("word_call", offsetof(ThunkWord, call));
#undef ADDR
#undef OFFSET
    if (PyModule_AddObject(m, "THUNK_RUNTIME", d) < 0)
        goto fail;
    if (PyModule_AddObjectRef(m, "_ThunkBlock", (PyObject *)&ThunkBlock_Type) < 0)
        return -1;
    return 0;
fail:
    Py_DECREF(d);
    return -1;
}
