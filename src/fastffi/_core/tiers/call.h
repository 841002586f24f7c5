/* What every tier does around the call itself: release the GIL if asked
 * (counting the call as in flight so close() defers dlclose), and move errno
 * between the thread-local copy and the real errno right next to the call,
 * before any Python code can run and clobber it. */
#ifndef FASTFFI_TIERS_CALL_H
#define FASTFFI_TIERS_CALL_H

#include <errno.h>

#include "core.h"

/* Arity, keywords and the closed-library check, in the order the messages
 * are specified.  Returns 0 when the call may proceed. */
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
    if (*f->closed) {
        raise_closed(f);
        return -1;
    }
    return 0;
}

static inline PyThreadState *call_prologue(FunctionObject *f)
{
    PyThreadState *ts = NULL;
    if ((f->flags & FN_CALL_OPTIONS) == 0)
        return NULL;
    if (f->flags & FN_RELEASE_GIL) {
        if (f->lib != NULL)
            f->lib->inflight++;
        ts = PyEval_SaveThread();
    }
    if (f->flags & FN_USE_ERRNO)
        errno = fastffi_saved_errno;
    return ts;
}

static inline void call_epilogue(FunctionObject *f, PyThreadState *ts)
{
    if ((f->flags & FN_CALL_OPTIONS) == 0)
        return;
    if (f->flags & FN_USE_ERRNO)
        fastffi_saved_errno = errno;
    if (ts != NULL) {
        PyEval_RestoreThread(ts);
        if (f->lib != NULL)
            library_call_finished(f->lib);
    }
}

#endif
