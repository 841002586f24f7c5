/* The GIL for a callback, on whatever thread C calls it from. */
#ifndef FASTFFI_CALLBACK_THREADS_H
#define FASTFFI_CALLBACK_THREADS_H

#include "core.h"

typedef struct {
    int ensured;                 /* the GIL was taken here and is given back by thread_leave */
    PyGILState_STATE state;
} ThreadEntry;

/* Hold the GIL: 0, or -1 (nothing taken) when the interpreter is
 * finalizing and no Python may run. */
int thread_enter(ThreadEntry *e);
void thread_leave(ThreadEntry *e);
int threads_init(void);

#endif
