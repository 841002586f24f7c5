/* Batched calls: one Python call drives a native loop over many argument rows.
 *
 * fastffi/batch.py validates everything first (formats, lengths, strides, the
 * output), so no Python code runs inside the loop and nothing in it can fail.
 * Columns arrive as (address, stride) pairs -- a broadcast value is a column
 * with stride 0 -- and the item format of each equals its argument's C type,
 * so a row's argument is simply the bytes at `address + row * stride`.
 *
 * A batch runs one of three loops, chosen by the function's tier:
 *   - a loop emitted by the JIT tier for this register shape (jit/<abi>.py
 *     emit_loop): argument registers loaded straight from the columns;
 *   - the plan loop: each row runs the plan's moves, reading columns instead
 *     of Python objects, then the plan's static call routine;
 *   - the libffi loop: ffi_call with the column addresses as its values.
 * Rows are split across a persistent pool of native threads when asked; the
 * GIL is released for any batch large enough to be worth it. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "tiers/call.h"
#include "callbacks/callback.h"
#include "runtime/convert.h"
#include "tiers/plan.h"
#include "tiers/stack.h"

/* Below this many rows the GIL is kept (releasing it costs more than the
 * calls), unless threads > 1 was asked for. */
#define RELEASE_GIL_ROWS 2048
#define MAX_THREADS 64

/* Every thread runs its rows in blocks of this many and looks at the batch's
 * stop flag between blocks; the thread that called map() also looks at the
 * clock there, and every SIGNAL_CHECK_NS takes the GIL for a moment to run
 * the signal handlers (PyErr_CheckSignals: only with the GIL, and only the
 * main thread runs them).  A handler that raises -- KeyboardInterrupt on
 * Ctrl-C -- stops the batch and map() raises it.  One coarse clock read per
 * block is all the loop pays; the GIL is taken at most once per interval, so
 * a busy Python thread elsewhere does not slow the batch down. */
#define CHECK_ROWS 4096
#define SIGNAL_CHECK_NS 10000000

typedef void LoopCode(void (*target)(void), char **columns, const Py_ssize_t *strides,
                      char *out, Py_ssize_t out_stride, Py_ssize_t rows);

/* Why a batch stopped early (besides a signal handler's exception). */
enum { BATCH_OK, BATCH_NO_STACK, BATCH_NO_MEMORY };

typedef struct {
    FunctionObject *f;
    LoopCode *code;                 /* JIT loop, or NULL */
    char *columns[FASTFFI_MAX_ARGS];
    Py_ssize_t strides[FASTFFI_MAX_ARGS];
    char *out;
    Py_ssize_t out_stride;
    atomic_int stop;                /* set by any thread: the others skip their remaining blocks */
    atomic_int failed;              /* BATCH_NO_STACK / BATCH_NO_MEMORY, from whichever thread hit it */
} Batch;

/* The calling thread's part in signal checks: whether it may run handlers
 * (it is the main thread), whether it released the GIL, and when it last
 * looked. */
typedef struct {
    int check_signals;
    PyThreadState *ts;              /* non-NULL while the GIL is released */
    struct timespec last;
} Caller;

/* Store a return image slot into an output row, truncated to its width
 * (neither ABI defines the upper bits of a narrow return). */
static inline void store_result(int kind, char *dst, const Slot *r)
{
    switch (kind) {
    case KIND_VOID: break;
    case KIND_BOOL: { uint8_t b = (uint8_t)r->u != 0; memcpy(dst, &b, 1); break; }
    case KIND_I8: case KIND_U8: { uint8_t v = (uint8_t)r->u; memcpy(dst, &v, 1); break; }
    case KIND_I16: case KIND_U16: { uint16_t v = (uint16_t)r->u; memcpy(dst, &v, 2); break; }
    case KIND_I32: case KIND_U32: { uint32_t v = (uint32_t)r->u; memcpy(dst, &v, 4); break; }
    case KIND_F32: memcpy(dst, &r->f, 4); break;
    default: memcpy(dst, &r->u, 8); break;
    }
}

/* Rows run through a plan in blocks: for each move, one tight loop fills that
 * slot in every frame of the block (the kind is decided once per block, not
 * per row), then the block's calls are made one after another.  A block's
 * frames take at most this many bytes of stack. */
#define BLOCK_BYTES 16384
#define BLOCK_ROWS 64

/* Fill the slot at `dst` of `rows` consecutive frames from a column,
 * extended to 64 bits as the call paths extend arguments. */
static void fill_slots(int kind, const char *src, Py_ssize_t stride, char *dst, size_t frame_size, int rows)
{
#define FILL(ctype, wide)                                                    \
    for (int r = 0; r < rows; r++, src += stride, dst += frame_size) {       \
        ctype v;                                                             \
        memcpy(&v, src, sizeof v);                                           \
        wide w = (wide)v;                                                    \
        memcpy(dst, &w, sizeof w);                                           \
    }                                                                        \
    break;
    switch (kind) {
    case KIND_BOOL: case KIND_U8: FILL(uint8_t, uint64_t)
    case KIND_I8: FILL(int8_t, int64_t)
    case KIND_I16: FILL(int16_t, int64_t)
    case KIND_U16: FILL(uint16_t, uint64_t)
    case KIND_I32: FILL(int32_t, int64_t)
    case KIND_U32: FILL(uint32_t, uint64_t)
    case KIND_F32: FILL(uint32_t, uint64_t)      /* the float's bits in the low half */
    default: FILL(uint64_t, uint64_t)            /* 64-bit integers, f64, pointers */
    }
#undef FILL
}

/* `frames` holds max(BLOCK_BYTES, one frame) bytes, 16-byte aligned. */
static void run_plan_rows(const Batch *b, Py_ssize_t start, Py_ssize_t end, char *frames)
{
    FunctionObject *f = b->f;
    const Plan *p = f->plan;
    size_t fs = p->h.frame_size;
    int block = (int)(BLOCK_BYTES / fs);
    block = block < 1 ? 1 : block > BLOCK_ROWS ? BLOCK_ROWS : block;
    struct { _Alignas(16) uint64_t q[2]; } ret[PLAN_RET_SIZE / 16];
    const PlanMove *moves = p->moves, *ret_moves = p->moves + p->h.nmoves;

    for (Py_ssize_t first = start; first < end; first += block) {
        int rows = end - first < block ? (int)(end - first) : block;
        for (const PlanMove *m = moves; m < ret_moves; m++) {
            const char *src = b->columns[m->arg] + first * b->strides[m->arg];
            Py_ssize_t stride = b->strides[m->arg];
            if (m->op == PLAN_OP_SCALAR) {
                fill_slots(m->kind, src, stride, frames + m->dst, fs, rows);
                continue;
            }
            for (int r = 0; r < rows; r++, src += stride) {
                char *frame = frames + r * fs;
                if (m->op == PLAN_OP_COPY) {
                    memcpy(frame + m->dst, src + m->src, m->size);
                }
                else if (m->op == PLAN_OP_WIDE) {   /* the column holds the value's bytes */
                    memcpy(frame + m->dst, src, m->size);
                    if (m->src != 0)
                        memcpy(frame + m->src, src + m->size, m->size);
                }
                else { /* PLAN_OP_REF: the callee gets a copy it may modify */
                    void *copy = frame + m->src;
                    memcpy(copy, src, m->size);
                    memcpy(frame + m->dst, &copy, sizeof copy);
                }
            }
        }
        for (int r = 0; r < rows; r++) {
            char *frame = frames + r * fs;
            char *out = b->out + (first + r) * b->out_stride;
            if (p->h.ret_indirect)   /* the callee writes the result straight into its row */
                memcpy(frame + p->h.indirect_dst, &out, sizeof out);
            p->routine(f->target, frame, p->h.stack_size, ret, p->nvec);
            if (f->retkind == KIND_STRUCT || p->h.nret != 0) {   /* a struct, or a wide scalar's pieces */
                for (const PlanMove *q = ret_moves; q < ret_moves + p->h.nret; q++)
                    memcpy(out + q->dst, (char *)ret + q->src, q->size);
            }
            else {
                store_result(f->retkind, out, (const Slot *)((char *)ret + p->h.ret_src));
            }
        }
    }
}

static void run_libffi_rows(const Batch *b, Py_ssize_t start, Py_ssize_t end)
{
    FunctionObject *f = b->f;
    Py_ssize_t n = f->nargs;
    void *values[n + 1];
    for (Py_ssize_t row = start; row < end; row++) {
        for (Py_ssize_t i = 0; i < n; i++)
            values[i] = b->columns[i] + row * b->strides[i];
        char *out = b->out + row * b->out_stride;
        if (f->retkind == KIND_STRUCT) {
            ffi_call(&f->cif, f->target, out, values);
        }
        else if (kind_is_wide(f->retkind)) {
            /* libffi may store a whole register (or x87's 10
             * bytes into 16): the row gets exactly the type's size. */
            Wide r;
            ffi_call(&f->cif, f->target, &r, values);
            memcpy(out, &r, (size_t)f->retsize);
        }
        else {
            Slot r;
            ffi_call(&f->cif, f->target, &r, values);
            store_result(f->retkind, out, &r);
        }
    }
}

static void run_rows(const Batch *b, Py_ssize_t start, Py_ssize_t end, char *frames)
{
    if (start >= end)
        return;
    if (b->code != NULL) {
        char *columns[FASTFFI_MAX_ARGS];
        for (Py_ssize_t i = 0; i < b->f->nargs; i++)
            columns[i] = b->columns[i] + start * b->strides[i];
        b->code(b->f->target, columns, b->strides, b->out + start * b->out_stride, b->out_stride, end - start);
    }
    else if (b->f->plan != NULL) {
        run_plan_rows(b, start, end, frames);
    }
    else {
        run_libffi_rows(b, start, end);
    }
}

static void batch_fail(Batch *b, int why)
{
    atomic_store(&b->failed, why);
    atomic_store(&b->stop, 1);
}

static int64_t elapsed_ns(const struct timespec *from, const struct timespec *to)
{
    return (int64_t)(to->tv_sec - from->tv_sec) * 1000000000 + (to->tv_nsec - from->tv_nsec);
}

/* Between blocks on the calling thread: run the signal handlers when the
 * interval has passed.  A handler's exception stops the batch and stays set
 * in the thread state until map() returns. */
static void caller_poll(Batch *b, Caller *c)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    if (elapsed_ns(&c->last, &now) < SIGNAL_CHECK_NS)
        return;
    c->last = now;
    int saved_errno = errno;   /* the handlers' Python code must not change what the next row sees */
    if (c->ts != NULL)
        PyEval_RestoreThread(c->ts);
    if (PyErr_CheckSignals() < 0)
        atomic_store(&b->stop, 1);
    if (c->ts != NULL)
        c->ts = PyEval_SaveThread();
    errno = saved_errno;
}

/* One thread's rows [start, end), in blocks; `caller` is NULL on pool
 * workers.  Big plan frames get a heap block instead of the stack one. */
static void run_chunk(Batch *b, Py_ssize_t start, Py_ssize_t end, Caller *caller)
{
    FunctionObject *f = b->f;
    if (start >= end)
        return;
    /* The stack-argument area goes on this thread's stack once per row. */
    if (f->stack_check != 0 && b->code == NULL && !stack_fits(f->stack_check)) {
        batch_fail(b, BATCH_NO_STACK);
        return;
    }
    struct { _Alignas(16) uint64_t q[2]; } units[BLOCK_BYTES / 16];
    char *frames = (char *)units, *heap = NULL;
    if (b->code == NULL && f->plan != NULL && ((const Plan *)f->plan)->h.frame_size > BLOCK_BYTES) {
        /* malloc, not PyMem: pool workers run without the GIL.  16-byte
         * aligned, as the routine's vector loads of the frame need. */
        heap = frames = aligned_alloc(16, ((const Plan *)f->plan)->h.frame_size);
        if (heap == NULL) {
            batch_fail(b, BATCH_NO_MEMORY);
            return;
        }
    }
    for (Py_ssize_t first = start; first < end; first += CHECK_ROWS) {
        if (atomic_load_explicit(&b->stop, memory_order_relaxed))
            break;
        run_rows(b, first, end - first < CHECK_ROWS ? end : first + CHECK_ROWS, frames);
        if (caller != NULL && caller->check_signals)
            caller_poll(b, caller);
    }
    free(heap);
}

/* ---- the thread pool: persistent, grown to the largest `threads` asked ---- */

typedef struct {
    Batch *batch;
    Py_ssize_t start, end;
} Chunk;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;    /* one batch at a time uses the pool */
static pthread_mutex_t pool_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;
static int pool_size;
static Chunk pool_chunks[MAX_THREADS];
static int pool_pending;            /* chunks not yet finished */
static unsigned long pool_generation;

static void *pool_worker(void *arg)
{
    int index = (int)(intptr_t)arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool_mutex);
    for (;;) {
        while (pool_generation == seen)
            pthread_cond_wait(&pool_work, &pool_mutex);
        seen = pool_generation;
        Chunk c = pool_chunks[index];
        pthread_mutex_unlock(&pool_mutex);
        if (c.batch != NULL)
            run_chunk(c.batch, c.start, c.end, NULL);
        pthread_mutex_lock(&pool_mutex);
        if (c.batch != NULL && --pool_pending == 0)
            pthread_cond_signal(&pool_done);
    }
    return NULL;
}

/* A forked child has none of the parent's workers: start from an empty pool. */
static void pool_after_fork(void)
{
    pthread_mutex_init(&pool_lock, NULL);
    pthread_mutex_init(&pool_mutex, NULL);
    pthread_cond_init(&pool_work, NULL);
    pthread_cond_init(&pool_done, NULL);
    pool_size = 0;
    pool_pending = 0;
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, pool_after_fork);
}

/* Grow the pool to `n` workers (called with pool_lock held). */
static int pool_grow(int n)
{
    while (pool_size < n) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int err = pthread_create(&t, &attr, pool_worker, (void *)(intptr_t)pool_size);
        pthread_attr_destroy(&attr);
        if (err != 0)
            return -1;
        pool_size++;
    }
    return 0;
}

/* Rows split in `threads` contiguous chunks: the calling thread runs the
 * first, pool workers the others; while it waits for them it keeps polling
 * for signals, and a handler's exception stops them at their next block. */
static void run_threaded(Batch *b, Py_ssize_t rows, int threads, Caller *caller)
{
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&pool_lock);
    if (pool_grow(threads - 1) < 0)
        threads = pool_size + 1;
    Py_ssize_t per = (rows + threads - 1) / threads;
    pthread_mutex_lock(&pool_mutex);
    for (int i = 0; i < pool_size; i++) {
        int k = i + 1;
        pool_chunks[i] = (Chunk){k < threads ? b : NULL, k * per, (k + 1) * per < rows ? (k + 1) * per : rows};
    }
    pool_pending = threads - 1;
    pool_generation++;
    pthread_cond_broadcast(&pool_work);
    pthread_mutex_unlock(&pool_mutex);

    run_chunk(b, 0, per < rows ? per : rows, caller);

    pthread_mutex_lock(&pool_mutex);
    while (pool_pending > 0) {
        if (!caller->check_signals) {
            pthread_cond_wait(&pool_done, &pool_mutex);
            continue;
        }
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_nsec += SIGNAL_CHECK_NS;
        if (deadline.tv_nsec >= 1000000000) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000;
        }
        if (pthread_cond_timedwait(&pool_done, &pool_mutex, &deadline) != 0 && pool_pending > 0) {
            pthread_mutex_unlock(&pool_mutex);   /* no lock held while the handlers run */
            caller_poll(b, caller);
            pthread_mutex_lock(&pool_mutex);
        }
    }
    pthread_mutex_unlock(&pool_mutex);
    pthread_mutex_unlock(&pool_lock);
}

/* The batch's scope records (callbacks/scope.c): one per Callback a column
 * holds, so an exception one raises on this thread while the loop runs is
 * map()'s.  Pushed after the last check that can fail; -1 with TypeError set
 * for anything that is not a Callback. */
static int push_callback_scopes(PyObject *callbacks, BufferList *scopes)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(callbacks); i++)
        if (!Callback_Check(PyTuple_GET_ITEM(callbacks, i))) {
            PyErr_SetString(PyExc_TypeError, "run_batch: callbacks must be Callback objects");
            return -1;
        }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(callbacks); i++)
        scope_push(scopes, (struct CallbackObject *)PyTuple_GET_ITEM(callbacks, i), 0);
    return 0;
}

/* run_batch(fn, columns, strides, out, out_stride, rows, threads, loop, check_signals, callbacks)
 *   columns: tuple of int addresses; strides: tuple of int (0 = broadcast);
 *   out: int address (0 for void); loop: CodeRegion of a JIT loop, or None;
 *   check_signals: the caller is the main thread (only it runs handlers);
 *   callbacks: the Callbacks the columns hold (their exceptions are raised
 *   from the batch, as from a call passed them), at most one per argument. */
static PyObject *run_batch(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *fn, *cols, *strides, *loop, *callbacks = NULL;
    Py_ssize_t rows, out_stride;
    PyObject *out_obj;
    int threads, check_signals = 0;
    if (!PyArg_ParseTuple(args, "O!O!O!OnniO|pO!", &Function_Type, &fn, &PyTuple_Type, &cols, &PyTuple_Type,
                          &strides, &out_obj, &out_stride, &rows, &threads, &loop, &check_signals, &PyTuple_Type,
                          &callbacks))
        return NULL;
    FunctionObject *f = (FunctionObject *)fn;
    Batch b = {.f = f, .out_stride = out_stride};
    if (PyTuple_GET_SIZE(cols) != f->nargs || PyTuple_GET_SIZE(strides) != f->nargs || rows < 0
        || threads < 1 || threads > MAX_THREADS
        || (callbacks != NULL && PyTuple_GET_SIZE(callbacks) > f->nargs)) {
        PyErr_SetString(PyExc_ValueError, "run_batch: bad columns, rows, threads or callbacks");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < f->nargs; i++) {
        b.columns[i] = PyLong_AsVoidPtr(PyTuple_GET_ITEM(cols, i));
        b.strides[i] = PyLong_AsSsize_t(PyTuple_GET_ITEM(strides, i));
    }
    b.out = PyLong_AsVoidPtr(out_obj);
    if (PyErr_Occurred())
        return NULL;
    if (loop != Py_None) {
        b.code = (LoopCode *)code_region_address(loop, 0);
        if (b.code == NULL)
            return NULL;
    }
    if (*f->closed)
        return raise_closed(f);
    if (rows == 0)
        Py_RETURN_NONE;
    BufferEntry scope_entries[callbacks != NULL ? PyTuple_GET_SIZE(callbacks) + 1 : 1];
    BufferList scopes = {scope_entries, 0};
    if (callbacks != NULL && push_callback_scopes(callbacks, &scopes) < 0)
        return NULL;

    int release = rows >= RELEASE_GIL_ROWS || threads > 1;
    Caller caller = {.check_signals = check_signals};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &caller.last);
    /* Counted in flight whether or not the GIL is released: a callback the
     * rows call may close the library (tiers/call.h). */
    ++*f->inflight;
    if (release)
        caller.ts = PyEval_SaveThread();
    if (f->flags & FN_USE_ERRNO)
        errno = fastffi_saved_errno;
    if (threads > 1 && rows >= threads)
        run_threaded(&b, rows, threads, &caller);
    else
        run_chunk(&b, 0, rows, &caller);
    if (f->flags & FN_USE_ERRNO)
        fastffi_saved_errno = errno;
    if (release)
        PyEval_RestoreThread(caller.ts);
    if (--*f->inflight == 0)
        library_last_call_returned(f->lib);
    if (scopes.count && buffers_release(&scopes))   /* a callback raised: map()'s exception */
        return NULL;
    if (PyErr_Occurred())                  /* a signal handler raised: KeyboardInterrupt on Ctrl-C */
        return NULL;
    switch (atomic_load(&b.failed)) {
    case BATCH_NO_STACK:
        raise_stack_exceeded(f);
        return NULL;
    case BATCH_NO_MEMORY:
        return PyErr_NoMemory();
    }
    Py_RETURN_NONE;
}

/* bool_column_is_0_1(address, stride, rows): whether every byte of a `?`
 * column is 0 or 1.  A _Bool argument holds only those (x86-64 psABI 3.1.2;
 * compiled code relies on it, so a 2 can test neither true nor false), while a
 * buffer holds whatever was stored in it: batch.py normalises a column that
 * fails.  One OR per row, vectorised when contiguous: what a real bool array
 * pays. */
static PyObject *bool_column_is_0_1(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *address;
    Py_ssize_t stride, rows;
    if (!PyArg_ParseTuple(args, "Onn", &address, &stride, &rows))
        return NULL;
    const unsigned char *p = PyLong_AsVoidPtr(address);
    if (p == NULL && PyErr_Occurred())
        return NULL;
    unsigned char acc = 0;
    if (stride == 1) {
        for (Py_ssize_t i = 0; i < rows; i++)
            acc |= p[i];
    }
    else {
        for (Py_ssize_t i = 0; i < rows; i++)
            acc |= p[i * stride];
    }
    return PyBool_FromLong(acc <= 1);
}

PyMethodDef batch_methods[] = {
    {"run_batch", run_batch, METH_VARARGS,
     "run_batch(fn, columns, strides, out, out_stride, rows, threads, loop): the native loop of fn.map()."},
    {"bool_column_is_0_1", bool_column_is_0_1, METH_VARARGS,
     "bool_column_is_0_1(address, stride, rows): whether every byte of a bool column is 0 or 1."},
    {NULL},
};
