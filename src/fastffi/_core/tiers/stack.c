/* The calling thread's stack bounds, asked once per thread (tiers/stack.h). */
#include "tiers/stack.h"

#include <pthread.h>

/* Left below the arguments for the callee's own frames and whatever it
 * calls (libc routines, signal handlers on this stack). */
#define STACK_MARGIN (64 * 1024)

/* Lowest usable address of this thread's stack; 0 until asked.  glibc's
 * pthread_getattr_np reports the main thread's stack from its rlimit and
 * /proc/self/maps -- a file read, hence the cache -- and a thread's from its
 * descriptor, the guard excluded.  A thread whose bounds cannot be had is
 * given 1: every area passes, as before this check. */
static _Thread_local uintptr_t stack_low;

static uintptr_t query_stack_low(void)
{
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return 1;
    int err = pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    return err != 0 || addr == NULL ? 1 : (uintptr_t)addr;
}

int stack_fits(Py_ssize_t bytes)
{
    if (stack_low == 0)
        stack_low = query_stack_low();
    /* The stack grows down on every platform fastffi's plan routines serve. */
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    return sp > stack_low && sp - stack_low >= (uintptr_t)bytes + STACK_MARGIN;
}

int raise_stack_exceeded(FunctionObject *f)
{
    PyErr_Format(FFIError, "%U(): %zd bytes of stack arguments exceed the thread's free stack", f->name,
                 f->stack_check);
    return -1;
}
