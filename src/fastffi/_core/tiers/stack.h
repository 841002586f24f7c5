/* Stack-argument areas against the calling thread's stack.
 *
 * Every tier that passes arguments on the stack puts that area on the
 * machine stack of the calling thread (the plan routines copy it below the
 * stack pointer; libffi allocas it, and on AAPCS64 its by-reference copies
 * too): an area larger than what is left of the stack runs into the guard
 * page and kills the process.  Python decides at creation which functions
 * need the check (spec.stack_check: their stack bytes when at least
 * STACK_CHECK_MIN, else 0 and nothing is paid); the thread's bounds are
 * asked once per thread. */
#ifndef FASTFFI_TIERS_STACK_H
#define FASTFFI_TIERS_STACK_H

#include "core.h"

/* Areas under a page are like any C function's own frame: unchecked.  (GCC
 * and Clang's stack-clash protection probes at this interval too.) */
#define STACK_CHECK_MIN 4096

/* Whether `bytes` more of stack fit below the current stack pointer with a
 * margin left for the callee.  No GIL needed: map()'s pool workers ask. */
int stack_fits(Py_ssize_t bytes);

/* FFIError "{fn}(): {n} bytes of stack arguments exceed the thread's free stack". */
int raise_stack_exceeded(FunctionObject *f);

/* 0 when f's call may proceed on this thread, else -1 with FFIError set. */
static inline int stack_check(FunctionObject *f)
{
    if (f->stack_check == 0 || stack_fits(f->stack_check))
        return 0;
    return raise_stack_exceeded(f);
}

#endif
