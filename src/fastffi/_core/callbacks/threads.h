/* The GIL for a callback, on whatever thread C calls it from. */
#ifndef FASTFFI_CALLBACK_THREADS_H
#define FASTFFI_CALLBACK_THREADS_H

#include "core.h"

typedef struct {
    /* The thread state this entry attached (PyEval_RestoreThread) and
     * thread_leave detaches again; NULL when the thread already held the
     * GIL. */
    PyThreadState *attached;
} ThreadEntry;

PyThreadState *thread_enter_slow(ThreadEntry *e);
int threads_init(void);

/* Hold the GIL: this thread's state, or NULL (nothing taken) when the
 * interpreter is finalizing and no Python may run.  Inline: a callback run
 * while its thread holds the GIL (C called back during a fastffi call) pays
 * one check. */
static inline PyThreadState *thread_enter(ThreadEntry *e)
{
    PyThreadState *ts = compat_gil_holder_here();
    e->attached = NULL;
    if (ts != NULL)
        return ts;
    return thread_enter_slow(e);
}

static inline void thread_leave(ThreadEntry *e)
{
    if (e->attached != NULL)
        PyEval_SaveThread();
}

#endif
