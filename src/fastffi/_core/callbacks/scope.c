/* Held exceptions: the calls running on this thread that were passed a
 * callback.
 *
 * When argument conversion passes a Callback (or wraps a Python callable for
 * the call: runtime/convert.c), it pushes a ScopeRecord onto this thread's
 * stack, in the BufferList entry that argument would otherwise have used; the
 * call's buffer release pops it (runtime/convert.h: buffers_release).  While C
 * runs, an exception the callback's function raises is offered here
 * (callback_scope_hold, from callbacks/callback.c): the topmost record on this
 * thread naming that Callback belongs to the innermost call that was passed
 * it, and that call holds the exception -- the first one only; later ones go
 * to sys.unraisablehook.  When the call returns, popping the record makes the
 * held exception the current one, and the tier returns NULL instead of its
 * result (docs/callbacks.md, "Errors").
 *
 * Records of one call are contiguous on the stack: a call's records are
 * pushed during its own argument conversion, and any call made from Python
 * code run meanwhile (an __index__, a callback) pushes and pops its own in
 * between, last in, first out.  The stack is a C thread-local, not part of
 * the Python thread state: what matters is the OS thread C calls the
 * callback on, and a thread C created has no records, so its exceptions are
 * reported, never held.
 *
 * Only calls passed a callback touch any of this: a call's fast path never
 * pushes, and its release only runs when it acquired something (bufs.count). */
#include "callbacks/callback.h"

#include "runtime/convert.h"

PyObject scope_marker;

static _Thread_local ScopeRecord *scope_top;

void scope_push(BufferList *bufs, struct CallbackObject *cb, int owned)
{
    ScopeRecord *r = &bufs->views[bufs->count++].scope;
    r->unused = NULL;
    r->marker = &scope_marker;
    r->prev = scope_top;
    r->cb = cb;
    r->call = bufs;
    r->held = NULL;
    r->owned = owned;
    scope_top = r;
}

/* A temporary Callback's call is over: close it (C may not call it again)
 * and drop it.  Python code may run (close, a finalizer), so the exception
 * state of the call is kept aside meanwhile. */
static void retire_temporary(CallbackObject *cb)
{
    PyObject *saved = compat_fetch_exception();
    PyObject *r = PyObject_CallMethod((PyObject *)cb, "close", NULL);
    if (r == NULL)
        PyErr_WriteUnraisable((PyObject *)cb);
    Py_XDECREF(r);
    Py_DECREF(cb);
    if (saved != NULL)
        compat_restore_exception(saved);
}

int scope_pop(ScopeRecord *r)
{
    /* Last in, first out (see above); should a release ever come out of
     * order, the record is unlinked where it is rather than leaving the
     * stack pointing into a dead frame. */
    if (scope_top == r) {
        scope_top = r->prev;
    }
    else {
        for (ScopeRecord *above = scope_top; above != NULL; above = above->prev)
            if (above->prev == r) {
                above->prev = r->prev;
                break;
            }
    }
    r->marker = NULL;
    CallbackObject *cb = r->cb;
    PyObject *held = r->held;
    int raised = 0;
    if (held != NULL) {
        /* An exception already set (the call failed before C ran, or Python
         * code at release raised) wins; the held one is reported. */
        if (PyErr_Occurred()) {
            PyObject *saved = compat_fetch_exception();
            compat_restore_exception(held);
            PyErr_WriteUnraisable((PyObject *)cb);
            compat_restore_exception(saved);
        }
        else {
            compat_restore_exception(held);
            raised = 1;
        }
    }
    if (r->owned)
        retire_temporary(cb);
    return raised;
}

int callback_scope_hold(CallbackObject *cb)
{
    ScopeRecord *match = NULL;
    for (ScopeRecord *r = scope_top; r != NULL; r = r->prev)
        if (r->cb == cb) {
            match = r;
            break;
        }
    if (match == NULL)
        return 0;
    /* The call may already hold one, from this callback or another one it
     * was passed: the first is raised, later ones are reported. */
    for (ScopeRecord *r = scope_top; r != NULL; r = r->prev)
        if (r->call == match->call && r->held != NULL) {
            PyErr_WriteUnraisable((PyObject *)cb);
            return 1;
        }
    match->held = compat_fetch_exception();
    return 1;
}
