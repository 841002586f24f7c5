/* Everything that depends on which CPython the core is compiled against.
 *
 * The rule (the style of CPython's own pyport.h): every PY_VERSION_HEX branch
 * and every private (_Py*) or unstable (PyUnstable_*) API the core uses is
 * here, behind a small named function, each with a line saying which
 * versions need it.  No other file of the core tests the version or calls a
 * private API, so supporting a new CPython means reading this file only.
 * Supported: CPython 3.10 and later (pyproject.toml requires-python). */
#ifndef FASTFFI_COMPAT_H
#define FASTFFI_COMPAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdint.h>

/* Refused until every global and per-function state is made safe without the GIL
 * (docs/design.md, "Free-threaded CPython"); imported as it is, this single-phase module would
 * have CPython turn the GIL back on. */
#ifdef Py_GIL_DISABLED
#error "fastffi does not support free-threaded CPython (Py_GIL_DISABLED) yet: build it for a default CPython"
#endif

/* ---- inlining ---- */

/* Keep a cold function out of its caller (so the caller's frame stays
 * small).  Py_NO_INLINE is 3.11+; 3.10 has only the compiler's spelling. */
#ifdef Py_NO_INLINE
#define COMPAT_NO_INLINE Py_NO_INLINE
#elif defined(__GNUC__) || defined(__clang__)
#define COMPAT_NO_INLINE __attribute__((noinline))
#else
#define COMPAT_NO_INLINE
#endif

/* Inline a per-call helper the compiler's heuristics may keep out of line
 * (GCC 16 keeps tiers/plan.c's plan_run, which two entry points share, as a
 * call; inlined alone, it pushes convert_value out instead).
 * Py_ALWAYS_INLINE is 3.11+ (empty under Py_DEBUG); 3.10 has only the
 * compiler's spelling. */
#ifdef Py_ALWAYS_INLINE
#define COMPAT_ALWAYS_INLINE Py_ALWAYS_INLINE
#elif defined(__GNUC__) || defined(__clang__)
#define COMPAT_ALWAYS_INLINE __attribute__((always_inline))
#else
#define COMPAT_ALWAYS_INLINE
#endif

/* ---- exceptions ---- */

/* The raised exception, normalised, with the error indicator cleared; NULL
 * when none is set.  3.12 added PyErr_GetRaisedException and deprecated
 * PyErr_Fetch; before 3.12 only the triple exists. */
static inline PyObject *compat_fetch_exception(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
#endif
}

/* Raise `exc` (a reference is stolen), as PyErr_SetRaisedException does
 * from 3.12 on. */
static inline void compat_restore_exception(PyObject *exc)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), exc, PyException_GetTraceback(exc));
#endif
}

/* ---- threads and shutdown (callbacks/callback.c) ---- */

/* Whether the interpreter is finalizing: a callback from C then returns its
 * error image without running Python.  Py_IsFinalizing became public in
 * 3.13; before, only the private _Py_IsFinalizing exists. */
static inline int compat_is_finalizing(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing();
#else
    return _Py_IsFinalizing();
#endif
}

/* This thread's state when this thread holds the GIL, else NULL:
 * PyGILState_Check's answer without its thread-specific lookup, for a
 * callback thunk's fast path (callbacks/thunk.c).  3.12+ keep the attached
 * thread state per thread (NULL once detached): 3.13 made its accessor
 * public, 3.12 has only the private _PyThreadState_UncheckedGet.  3.10-3.11
 * keep only the state holding the GIL, process-wide: it is this thread's when
 * it was made on this thread (a thread state is used only by the thread that
 * created it; thread_id is PyThread_get_thread_ident's pthread_self()). */
static inline PyThreadState *compat_gil_holder_here(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyThreadState_GetUnchecked();
#elif PY_VERSION_HEX >= 0x030C0000
    return _PyThreadState_UncheckedGet();
#else
    PyThreadState *ts = _PyThreadState_UncheckedGet();
    return ts != NULL && ts->thread_id == (unsigned long)pthread_self() ? ts : NULL;
#endif
}

/* Py_EnterRecursiveCall / Py_LeaveRecursiveCall for the thread state `ts`
 * that holds the GIL, without raising: -1 when the limit is reached (the
 * caller takes a path that calls Py_EnterRecursiveCall and raises).  The
 * counter is a public field, counted down as CPython's own inline
 * _Py_EnterRecursiveCallTstate does (_Py_MakeRecCheck): 3.11's
 * recursion_remaining, 3.12-3.13's c_recursion_remaining (3.12 stops at 0,
 * 3.13 below it); 3.10 and 3.14+ (which check the stack pointer) call the
 * API. */
static inline int compat_recursion_enter(PyThreadState *ts)
{
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
    if (ts->recursion_remaining-- > 0)
        return 0;
    ts->recursion_remaining++;
    return -1;
#elif PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030D0000
    if (ts->c_recursion_remaining-- > 0)
        return 0;
    ts->c_recursion_remaining++;
    return -1;
#elif PY_VERSION_HEX >= 0x030D0000 && PY_VERSION_HEX < 0x030E0000
    if (ts->c_recursion_remaining-- >= 0)
        return 0;
    ts->c_recursion_remaining++;
    return -1;
#else
    (void)ts;
    if (Py_EnterRecursiveCall(" in a fastffi callback") == 0)
        return 0;
    PyErr_Clear();
    return -1;
#endif
}

static inline void compat_recursion_leave(PyThreadState *ts)
{
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
    ts->recursion_remaining++;
#elif PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030E0000
    ts->c_recursion_remaining++;
#else
    (void)ts;
    Py_LeaveRecursiveCall();
#endif
}

/* Deallocate an object whose reference count reached 0: what Py_DECREF
 * calls, for code that decrements inline (a callback thunk's body).
 * Private on every version. */
static inline void compat_dealloc(PyObject *o)
{
    _Py_Dealloc(o);
}

/* Whether this thread holds the GIL.  From 3.12 the current thread state is
 * thread-local and set exactly while this thread holds the GIL, so one load
 * answers (PyThreadState_GetUnchecked, public in 3.13; 3.12 exports the same
 * read as _PyThreadState_UncheckedGet).  Before, the current state is the
 * process-wide GIL holder: it is this thread's when its thread id is ours
 * (what PyGILState_Check learns through a pthread_getspecific, at three
 * times the cost). */
static inline int compat_thread_holds_gil(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyThreadState_GetUnchecked() != NULL;
#elif PY_VERSION_HEX >= 0x030C0000
    return _PyThreadState_UncheckedGet() != NULL;
#else
    PyThreadState *holder = _PyThreadState_UncheckedGet();
    return holder != NULL && holder->thread_id == PyThread_get_thread_ident();
#endif
}

/* ---- int objects ---- */

/* Sign of an int object (-1, 0, +1); `o` must be an int, so it cannot fail.
 * 3.14 made PyLong_GetSign public and deprecated _PyLong_Sign (removal is
 * scheduled for 3.18); before 3.14 only the private function exists. */
static inline int compat_long_sign(PyObject *o)
{
#if PY_VERSION_HEX >= 0x030E0000
    int sign = 0;
    (void)PyLong_GetSign(o, &sign);
    return sign;
#else
    return _PyLong_Sign(o);
#endif
}

/* The value of an exact int when CPython stores it compactly (|v| < 2**30
 * with 30-bit digits), for the conversion fast path.  Returns 0 when it is
 * not compact.  3.12 changed the representation: from 3.12 the unstable
 * accessors say it; 3.10-3.11 keep a signed digit count in ob_size. */
static inline int compat_long_compact_value(PyObject *o, int64_t *v)
{
#if PY_VERSION_HEX >= 0x030C0000
    if (PyUnstable_Long_IsCompact((PyLongObject *)o)) {
        *v = (int64_t)PyUnstable_Long_CompactValue((PyLongObject *)o);
        return 1;
    }
    return 0;
#else
    Py_ssize_t size = Py_SIZE(o);
    if (size >= -1 && size <= 1) {
        *v = (int64_t)size * (int64_t)((PyLongObject *)o)->ob_digit[0];
        return 1;
    }
    return 0;
#endif
}

/* The value of a non-negative exact int of at most two 30-bit digits (below
 * 2**60: every user-space address of x86-64 and AArch64 Linux), for the
 * address fast path of the memory helpers (runtime/memory.c).  Returns 0
 * when it is not one (negative, larger, or another digit size): the caller
 * takes the general conversion, which also raises its errors.  The same
 * layouts as compat_long_compact_value: 3.10-3.11's signed digit count in
 * ob_size; 3.12+'s lv_tag, the digit count above _PyLong_NON_SIZE_BITS and
 * the sign in _PyLong_SIGN_MASK (1: zero, 2: negative). */
static inline int compat_long_small_address(PyObject *o, uint64_t *v)
{
#if PYLONG_BITS_IN_DIGIT != 30
    (void)o; (void)v;
    return 0;
#elif PY_VERSION_HEX >= 0x030C0000
    uintptr_t tag = ((PyLongObject *)o)->long_value.lv_tag;
    uintptr_t ndigits = tag >> _PyLong_NON_SIZE_BITS;
    const digit *d = ((PyLongObject *)o)->long_value.ob_digit;
    if ((tag & _PyLong_SIGN_MASK) == 2 || ndigits > 2)
        return 0;
    *v = ndigits == 0 ? 0 : ndigits == 1 ? (uint64_t)d[0] : (uint64_t)d[0] | (uint64_t)d[1] << 30;
    return 1;
#else
    Py_ssize_t size = Py_SIZE(o);
    const digit *d = ((PyLongObject *)o)->ob_digit;
    if (size < 0 || size > 2)
        return 0;
    *v = size == 0 ? 0 : size == 1 ? (uint64_t)d[0] : (uint64_t)d[0] | (uint64_t)d[1] << 30;
    return 1;
#endif
}

/* ---- the object layout the JIT's inline fast paths assume ---- */

/* The name the JIT emitters look up (JIT_RUNTIME["object_layout"]) to decide
 * whether they may read objects inline and how (fastffi/tiers/jit/layouts.py).
 * Described layouts, release builds only (no debug, trace-refs or
 * free-threaded object header, not the limited API), 30-bit digits:
 *   3.10, 3.11: an int's signed digit count in ob_size, ob_digit after the
 *               PyVarObject header;
 *   3.12-3.15:  PyLongObject.long_value = {lv_tag, ob_digit}: the digit count
 *               << _PyLong_NON_SIZE_BITS, the sign in _PyLong_SIGN_MASK (0
 *               positive, 1 zero, 2 negative; 3.14 adds a flag bit above it on
 *               small ints), compact iff lv_tag < 2 << _PyLong_NON_SIZE_BITS
 *               (cpython/longintrepr.h, _PyLong_IsCompact) -- the same in the
 *               3.12.1, 3.13.0, 3.14 and 3.15 headers.
 * Anything else is named so that the emitters refuse it rather than guess. */
#if defined(Py_DEBUG) || defined(Py_TRACE_REFS) || defined(Py_GIL_DISABLED) || defined(Py_LIMITED_API)
#define COMPAT_OBJECT_LAYOUT "cpython-special-build"
#elif PY_VERSION_HEX >= 0x030A0000 && PY_VERSION_HEX < 0x030B0000 && PYLONG_BITS_IN_DIGIT == 30
#define COMPAT_OBJECT_LAYOUT "cpython-3.10-release"
#elif PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000 && PYLONG_BITS_IN_DIGIT == 30
#define COMPAT_OBJECT_LAYOUT "cpython-3.11-release"
#elif PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x03100000 && PYLONG_BITS_IN_DIGIT == 30 \
    && defined(_PyLong_SIGN_MASK) && defined(_PyLong_NON_SIZE_BITS)
#define COMPAT_OBJECT_LAYOUT "cpython-3.12-release"
#else
#define COMPAT_OBJECT_LAYOUT "cpython-other"
#endif

/* Where an int keeps what the emitters read, published into JIT_RUNTIME.
 * 3.10-3.11: ob_digit after the PyVarObject header, the count in ob_size.
 * 3.12+: lv_tag and ob_digit inside long_value, plus the tag's constants. */
#if PY_VERSION_HEX < 0x030C0000
#define COMPAT_LONG_DIGIT0_OFFSET offsetof(PyLongObject, ob_digit)
#define COMPAT_HAS_LONG_TAG 0
#else
#define COMPAT_LONG_DIGIT0_OFFSET offsetof(PyLongObject, long_value.ob_digit)
#define COMPAT_HAS_LONG_TAG 1
#define COMPAT_LONG_TAG_OFFSET offsetof(PyLongObject, long_value.lv_tag)
#define COMPAT_LONG_SIGN_MASK _PyLong_SIGN_MASK
#define COMPAT_LONG_COMPACT_BELOW (2 << _PyLong_NON_SIZE_BITS)
#endif

/* An instance of `cls` -- an int subclass adding nothing to int's layout
 * (the caller checked tp_basicsize and tp_itemsize) -- equal to `v`, an
 * exact int no small-int cache holds (|v| > 256; 3.14 flags cached ones in
 * lv_tag), as long_subtype_new makes one (allocate, copy the digits) without
 * calling the class: no argument tuple, no parsing, no __init__.  A typed
 * pointer result is one per call (runtime/function.c).  NULL if the layout is
 * not one described above (the caller then calls the class). */
static inline PyObject *compat_long_subtype_copy(PyTypeObject *cls, PyObject *v)
{
#if defined(Py_DEBUG) || defined(Py_TRACE_REFS) || defined(Py_GIL_DISABLED) || defined(Py_LIMITED_API)
    (void)cls, (void)v;
    return NULL;
#else
#if PY_VERSION_HEX >= 0x030C0000
    Py_ssize_t n = (Py_ssize_t)(((PyLongObject *)v)->long_value.lv_tag >> _PyLong_NON_SIZE_BITS);
#else
    Py_ssize_t n = Py_ABS(Py_SIZE(v));
#endif
    PyObject *o = cls->tp_alloc(cls, n);
    if (o != NULL)
        memcpy((char *)o + sizeof(PyObject), (const char *)v + sizeof(PyObject),
               (size_t)(PyLong_Type.tp_basicsize - (Py_ssize_t)sizeof(PyObject) + n * PyLong_Type.tp_itemsize));
    return o;
#endif
}

#endif
