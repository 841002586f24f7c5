/* What every tier does around the call itself: refuse a closed library's
 * call, count the call in flight (a callback may close the library while
 * its code runs, and close() then defers dlclose to the call's end), release
 * the GIL if asked, and move errno between the thread-local copy and the
 * real errno right next to the call, before any Python code can run and
 * clobber it. */
#ifndef FASTFFI_TIERS_CALL_H
#define FASTFFI_TIERS_CALL_H

#include <errno.h>

#include "core.h"

/* Arity and keywords, in the order the messages are specified.  Returns 0
 * when the arguments may be converted. */
static inline int call_check(FunctionObject *f, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t given = PyVectorcall_NARGS(nargsf);
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0) {
        raise_kwargs(f);
        return -1;
    }
    if (given != f->nargs) {
        raise_arity(f, given);
        return -1;
    }
    return 0;
}

/* The closed-library check, the last thing before call_prologue: after the
 * last argument conversion and the result's allocation, since either can
 * run Python code (__index__, __float__, a buffer exporter, a finalizer run
 * by the collector) that closes the library -- in this thread, or in
 * another one while the GIL is dropped -- and close() unloads at once when
 * no call is counted in flight.  From here to the call no Python code runs;
 * a release_gil call is counted in flight before the GIL is dropped.
 * Returns -1 with LibraryClosedError set when the call must not be made. */
static inline int call_check_open(FunctionObject *f)
{
    if (*f->closed) {
        raise_closed(f);
        return -1;
    }
    return 0;
}

/* Every call is in flight on its library from here to call_leave (with the
 * GIL held at both ends): two instructions in, three out (tests/test_inflight.py
 * measures them).  A raw address counts on a counter that never reaches 0. */
static inline void call_enter(FunctionObject *f)
{
    ++*f->inflight;
}

static inline void call_leave(FunctionObject *f)
{
    if (__builtin_expect(--*f->inflight == 0, 0))
        library_last_call_returned(f->lib);   /* closed during the call */
}

static inline PyThreadState *call_prologue(FunctionObject *f)
{
    PyThreadState *ts = NULL;
    if ((f->flags & FN_CALL_OPTIONS) == 0)
        return NULL;
    if (f->flags & FN_RELEASE_GIL)
        ts = PyEval_SaveThread();
    if (f->flags & FN_USE_ERRNO)
        call_errno_in();
    return ts;
}

static inline void call_epilogue(FunctionObject *f, PyThreadState *ts)
{
    if ((f->flags & FN_CALL_OPTIONS) == 0)
        return;
    if (f->flags & FN_USE_ERRNO)
        call_errno_out();
    if (ts != NULL)
        PyEval_RestoreThread(ts);
}

#endif
