/* Taking the GIL in a callback.
 *
 * Three kinds of caller:
 *   - a thread that holds the GIL (C called back during a fastffi call):
 *     one check, no round trip;
 *   - a Python thread inside a release_gil call: PyGILState_Ensure takes the
 *     GIL back for its existing thread state;
 *   - a thread C created, which has no thread state: PyGILState_Ensure
 *     makes one, and an extra Ensure keeps it past PyGILState_Release, so
 *     the thread keeps one Python thread state for its whole life --
 *     threading.local() persists across its calls and each call costs no
 *     creation (ctypes makes and destroys one every call).  A pthread key
 *     destructor gives it back when the thread exits.
 *
 * Finalization: checked before taking the GIL, best effort.  A thread that
 * passes the check just before the interpreter starts finalizing can still
 * reach PyGILState_Ensure afterwards: CPython 3.10-3.13 then end the thread
 * with pthread_exit, 3.14 and later hang it for good (PyThread_hang_thread,
 * gh-87135).  docs/callbacks.md says so. */
#include <pthread.h>

#include "callbacks/threads.h"

static pthread_key_t kept_key;

/* Thread exit of a thread that kept a thread state (`value`).  By the time
 * this destructor runs, glibc may already have cleared CPython's own
 * thread-specific value (its autoTSS key has no destructor; all keys are
 * cleared in key order), so PyGILState_* would no longer find the state:
 * the kept state is restored, cleared and deleted directly, which is what
 * PyGILState_Release does when a thread's count reaches 0. */
static void release_kept_state(void *value)
{
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

int thread_enter(ThreadEntry *e)
{
    e->ensured = 0;
    if (compat_thread_holds_gil())
        return 0;
    if (compat_is_finalizing())
        return -1;
    int foreign = PyGILState_GetThisThreadState() == NULL;
    e->state = PyGILState_Ensure();
    e->ensured = 1;
    if (foreign) {
        /* Kept past PyGILState_Release (its count stays above 0); given
         * back at thread exit. */
        PyGILState_Ensure();
        pthread_setspecific(kept_key, PyGILState_GetThisThreadState());
    }
    return 0;
}

void thread_leave(ThreadEntry *e)
{
    if (e->ensured)
        PyGILState_Release(e->state);
}
