/* Taking the GIL in a callback.
 *
 * Three kinds of caller:
 *   - a thread that holds the GIL (C called back during a fastffi call):
 *     one check, no round trip;
 *   - a Python thread inside a release_gil call: its thread state is looked
 *     up (PyGILState_GetThisThreadState) and attached with
 *     PyEval_RestoreThread, detached with PyEval_SaveThread on the way out --
 *     what PyGILState_Ensure/Release do for a thread with a state, without
 *     their second lookup and counter bookkeeping;
 *   - a thread C created, which has no thread state: PyGILState_Ensure
 *     makes one on its first call (registered as the thread's, with a
 *     gilstate count of 1 that nothing here ever releases), and the thread
 *     keeps it for its whole life -- threading.local() persists across its
 *     calls and each call costs no creation (ctypes makes and destroys one
 *     every call).  It is also cached in a C thread-local, so later calls
 *     attach it without any lookup.  A pthread key destructor gives it back
 *     when the thread exits.
 *
 * Only the state made here is cached: a thread state someone else made on a
 * foreign thread (another extension's PyGILState_Ensure around a fastffi
 * call) may be deleted by its owner at any time, so it is looked up each
 * call, never remembered.
 *
 * Nested PyGILState_Ensure/Release pairs run by the callback's Python code
 * see the GIL held by the state they find and only move its count, as they
 * would inside PyGILState_Ensure's own section.
 *
 * Finalization: checked before taking the GIL, best effort.  A thread that
 * passes the check just before the interpreter starts finalizing can still
 * reach PyEval_RestoreThread afterwards: CPython 3.10-3.13 then end the
 * thread with pthread_exit, 3.14 and later hang it for good
 * (PyThread_hang_thread, gh-87135).  docs/callbacks.md says so. */
#include <pthread.h>

#include "callbacks/threads.h"

static pthread_key_t kept_key;
/* The thread state made here for this (foreign) thread, kept until it
 * exits; NULL on every other thread. */
static _Thread_local PyThreadState *kept_here;

/* Thread exit of a thread that kept a thread state (`value`).  By the time
 * this destructor runs, glibc may already have cleared CPython's own
 * thread-specific value (its autoTSS key has no destructor; all keys are
 * cleared in key order), so PyGILState_* would no longer find the state:
 * the kept state is restored, cleared and deleted directly, which is what
 * PyGILState_Release does when a thread's count reaches 0.  The cache is
 * cleared first: another library's key destructor running after this one
 * may still call a callback, which then makes a new state (and this key
 * gets a value again: glibc runs destructors again, up to
 * PTHREAD_DESTRUCTOR_ITERATIONS times). */
static void release_kept_state(void *value)
{
    kept_here = NULL;
    if (!Py_IsInitialized() || compat_is_finalizing())
        return;   /* the interpreter owns (or already freed) every state now */
    PyThreadState *ts = value;
    PyEval_RestoreThread(ts);
    PyThreadState_Clear(ts);
    PyThreadState_DeleteCurrent();
}

int threads_init(void)
{
    static int done;
    if (done)
        return 0;
    if (pthread_key_create(&kept_key, release_kept_state) != 0) {
        PyErr_SetString(PyExc_RuntimeError, "fastffi: pthread_key_create failed");
        return -1;
    }
    done = 1;
    return 0;
}

PyThreadState *thread_enter_slow(ThreadEntry *e)
{
    if (compat_is_finalizing())
        return NULL;
    PyThreadState *ts = kept_here;
    if (ts == NULL)
        ts = PyGILState_GetThisThreadState();
    if (ts != NULL) {
        PyEval_RestoreThread(ts);
        e->attached = ts;
        return ts;
    }
    /* A thread Python has never seen: made once, with the GIL taken.  Its
     * gilstate count stays 1 for good (no PyGILState_Release), so nested
     * Ensure/Release pairs never delete it; given back at thread exit. */
    (void)PyGILState_Ensure();
    ts = PyGILState_GetThisThreadState();
    kept_here = ts;
    pthread_setspecific(kept_key, ts);
    e->attached = ts;
    return ts;
}
