/* The GIL for a callback, on whatever thread C calls it from. */
#ifndef FASTFFI_CALLBACK_THREADS_H
#define FASTFFI_CALLBACK_THREADS_H

#include "core.h"

typedef struct {
    int ensured;                 /* the GIL was taken here and is given back by thread_leave */
    PyGILState_STATE state;
} ThreadEntry;

int thread_enter_slow(ThreadEntry *e);
int threads_init(void);

/* Hold the GIL: 0, or -1 (nothing taken) when the interpreter is
 * finalizing and no Python may run.  Inline: a callback run while its
 * thread holds the GIL (C called back during a fastffi call) pays one
 * check. */
static inline int thread_enter(ThreadEntry *e)
{
    e->ensured = 0;
    if (compat_thread_holds_gil())
        return 0;
    return thread_enter_slow(e);
}

static inline void thread_leave(ThreadEntry *e)
{
    if (e->ensured)
        PyGILState_Release(e->state);
}

#endif
