/*
 * _fastffi_bench_handwritten: a hand-written CPython extension calling the
 * benchmark targets -- the practical floor every FFI is compared with.
 *
 * A call to one of its functions goes:
 *   1. The interpreter calls a builtin function (METH_FASTCALL, or
 *      METH_NOARGS for noop): no argument tuple is built.
 *   2. The wrapper checks the argument count and converts each argument with
 *      the cheapest public C-API call that is still correct, range checks
 *      included (what a careful extension author writes by hand).
 *   3. It calls the target through a pointer looked up once with dlsym, so
 *      the compiler cannot inline the target: the same kind of call an FFI
 *      makes.
 *   4. It boxes the result.
 *
 * The module exports one function, load(path): it resolves the targets in
 * the library at path (strlen in the running process) and returns
 * {name: function}.  Wrappers only exist once their pointers are set, so no
 * call pays for a "loaded yet?" check.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <Python.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

struct Vec3 {
    double x, y, z;
};

/* The targets, set by load(). */
static void (*noop_p)(void);
static int32_t (*add_i32_p)(int32_t, int32_t);
static double (*add_f64_p)(double, double);
static int64_t (*mix3_p)(int32_t, int64_t, double);
static double (*mix4_p)(int32_t, double, int64_t, double);
static int64_t (*sum8_i64_p)(int64_t, int64_t, int64_t, int64_t,
                             int64_t, int64_t, int64_t, int64_t);
static double (*mix12_p)(int32_t, double, int64_t, float, uint32_t, double,
                         int16_t, double, uint64_t, float, int8_t, double);
static double (*vec3_norm2_p)(struct Vec3);
static uint32_t (*sum_bytes_p)(const uint8_t *, size_t);
static size_t (*strlen_p)(const char *);

/* ---- argument conversion: each returns 0, or -1 with an exception set ---- */

static PyObject *
wrong_count(const char *name, Py_ssize_t given, Py_ssize_t expected)
{
    PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments (%zd given)",
                 name, expected, given);
    return NULL;
}

static int
out_of_range(PyObject *o)
{
    PyErr_Format(PyExc_OverflowError, "%R is out of range", o);
    return -1;
}

/* A signed integer in [lo, hi].  PyLong_AsLong takes int and __index__
   objects, rejects float, and long is 64-bit here (LP64). */
static inline int
to_signed(PyObject *o, int64_t lo, int64_t hi, int64_t *out)
{
    long v = PyLong_AsLong(o);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < lo || v > hi)
        return out_of_range(o);
    *out = v;
    return 0;
}

/* An unsigned integer in [0, hi]; negative values raise OverflowError. */
static inline int
to_unsigned(PyObject *o, uint64_t hi, uint64_t *out)
{
    unsigned long v = PyLong_AsUnsignedLong(o);
    if (v == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    if (v > hi)
        return out_of_range(o);
    *out = v;
    return 0;
}

/* A double from a float (inline fast path), or anything PyFloat_AsDouble
   takes (int, __float__, __index__). */
static inline int
to_double(PyObject *o, double *out)
{
    if (PyFloat_CheckExact(o)) {
        *out = PyFloat_AS_DOUBLE(o);
        return 0;
    }
    *out = PyFloat_AsDouble(o);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

/* A float, overflowing like struct.pack("f"): finite values that round to
   infinity are refused, inf and nan pass. */
static inline int
to_float(PyObject *o, float *out)
{
    double d;
    if (to_double(o, &d))
        return -1;
    *out = (float)d;
    if (isinf(*out) && !isinf(d))
        return out_of_range(o);
    return 0;
}

/* The memory of a bytes-like object, held until release_bytes(). */
typedef struct {
    const char *ptr;
    Py_ssize_t len;
    Py_buffer view; /* used only when the object is not exactly bytes */
    int has_view;
} bytes_arg;

static inline int
get_bytes(PyObject *o, bytes_arg *b)
{
    if (PyBytes_CheckExact(o)) {
        b->ptr = PyBytes_AS_STRING(o);
        b->len = PyBytes_GET_SIZE(o);
        b->has_view = 0;
        return 0;
    }
    if (PyObject_GetBuffer(o, &b->view, PyBUF_SIMPLE) < 0) /* C-contiguous */
        return -1;
    b->ptr = b->view.buf;
    b->len = b->view.len;
    b->has_view = 1;
    return 0;
}

static inline void
release_bytes(bytes_arg *b)
{
    if (b->has_view)
        PyBuffer_Release(&b->view);
}

/* ---- the wrappers ---- */

static PyObject *
w_noop(PyObject *self, PyObject *unused)
{
    noop_p();
    Py_RETURN_NONE;
}

static PyObject *
w_add_i32(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int64_t a, b;
    if (nargs != 2)
        return wrong_count("add_i32", nargs, 2);
    if (to_signed(args[0], INT32_MIN, INT32_MAX, &a) ||
        to_signed(args[1], INT32_MIN, INT32_MAX, &b))
        return NULL;
    return PyLong_FromLong(add_i32_p((int32_t)a, (int32_t)b));
}

static PyObject *
w_add_f64(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    double a, b;
    if (nargs != 2)
        return wrong_count("add_f64", nargs, 2);
    if (to_double(args[0], &a) || to_double(args[1], &b))
        return NULL;
    return PyFloat_FromDouble(add_f64_p(a, b));
}

static PyObject *
w_mix3(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int64_t a, b;
    double c;
    if (nargs != 3)
        return wrong_count("mix3", nargs, 3);
    if (to_signed(args[0], INT32_MIN, INT32_MAX, &a) || to_signed(args[1], INT64_MIN, INT64_MAX, &b) ||
        to_double(args[2], &c))
        return NULL;
    return PyLong_FromLongLong(mix3_p((int32_t)a, b, c));
}

static PyObject *
w_mix4(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int64_t a, c;
    double b, d;
    if (nargs != 4)
        return wrong_count("mix4", nargs, 4);
    if (to_signed(args[0], INT32_MIN, INT32_MAX, &a) || to_double(args[1], &b) ||
        to_signed(args[2], INT64_MIN, INT64_MAX, &c) || to_double(args[3], &d))
        return NULL;
    return PyFloat_FromDouble(mix4_p((int32_t)a, b, c, d));
}

static PyObject *
w_sum8_i64(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int64_t v[8];
    if (nargs != 8)
        return wrong_count("sum8_i64", nargs, 8);
    for (int i = 0; i < 8; i++)
        if (to_signed(args[i], INT64_MIN, INT64_MAX, &v[i]))
            return NULL;
    return PyLong_FromLong(sum8_i64_p(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]));
}

static PyObject *
w_mix12(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int64_t a, c, g, k;
    uint64_t e, i;
    double b, f, h, l;
    float d, j;
    if (nargs != 12)
        return wrong_count("mix12", nargs, 12);
    if (to_signed(args[0], INT32_MIN, INT32_MAX, &a) || to_double(args[1], &b) ||
        to_signed(args[2], INT64_MIN, INT64_MAX, &c) || to_float(args[3], &d) ||
        to_unsigned(args[4], UINT32_MAX, &e) || to_double(args[5], &f) ||
        to_signed(args[6], INT16_MIN, INT16_MAX, &g) || to_double(args[7], &h) ||
        to_unsigned(args[8], UINT64_MAX, &i) || to_float(args[9], &j) ||
        to_signed(args[10], INT8_MIN, INT8_MAX, &k) || to_double(args[11], &l))
        return NULL;
    return PyFloat_FromDouble(mix12_p((int32_t)a, b, c, d, (uint32_t)e, f,
                                      (int16_t)g, h, i, j, (int8_t)k, l));
}

/* The struct arrives as any bytes-like object of exactly its size. */
static PyObject *
w_vec3_norm2(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    bytes_arg b;
    struct Vec3 v;
    if (nargs != 1)
        return wrong_count("vec3_norm2", nargs, 1);
    if (get_bytes(args[0], &b))
        return NULL;
    if (b.len != sizeof v) {
        release_bytes(&b);
        PyErr_Format(PyExc_ValueError, "expected %zu bytes, got %zd", sizeof v, b.len);
        return NULL;
    }
    memcpy(&v, b.ptr, sizeof v);
    release_bytes(&b);
    return PyFloat_FromDouble(vec3_norm2_p(v));
}

/* Like an FFI, n is not checked against the buffer's length: the pointer
   and the length are independent arguments of the C function. */
static PyObject *
w_sum_bytes(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    bytes_arg b;
    uint64_t n;
    uint32_t r;
    if (nargs != 2)
        return wrong_count("sum_bytes", nargs, 2);
    if (to_unsigned(args[1], SIZE_MAX, &n) || get_bytes(args[0], &b))
        return NULL;
    r = sum_bytes_p((const uint8_t *)b.ptr, (size_t)n);
    release_bytes(&b);
    return PyLong_FromUnsignedLong(r);
}

/* A str goes as its UTF-8 form (embedded NUL refused, or the callee would
   see a shorter string); bytes go as they are. */
static PyObject *
w_strlen(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    const char *s;
    Py_ssize_t len;
    if (nargs != 1)
        return wrong_count("strlen", nargs, 1);
    if (PyUnicode_Check(args[0])) {
        s = PyUnicode_AsUTF8AndSize(args[0], &len);
        if (s == NULL)
            return NULL;
        if (memchr(s, '\0', (size_t)len) != NULL) {
            PyErr_SetString(PyExc_ValueError, "embedded null character");
            return NULL;
        }
    }
    else if (PyBytes_Check(args[0])) {
        s = PyBytes_AS_STRING(args[0]);
    }
    else {
        PyErr_Format(PyExc_TypeError, "expected str or bytes, got %.200s",
                     Py_TYPE(args[0])->tp_name);
        return NULL;
    }
    return PyLong_FromSize_t(strlen_p(s));
}

/* ---- callbacks: the floor for C calling Python ----
 *
 * What a careful extension author writes for one callback: the Python
 * callable in a static slot, its argument boxed and passed with
 * PyObject_Vectorcall, its result unboxed with the range check (an error
 * goes to sys.unraisablehook and C gets 0).  One C function per way of being
 * reached, each paying only what that way needs:
 *   *_held     C called it with the GIL held: nothing to acquire;
 *   *_ensure   the GIL was released around the outer call: PyGILState_Ensure
 *              finds the caller's thread state and takes the GIL back;
 *   *_thread   a thread C created: its own thread state, made on its first
 *              callback and kept (a pthread key destroys it when the thread
 *              exits), so each call only swaps the GIL in and out.
 * callback_floor() stores the callables and returns the addresses; the
 * qsort floor's comparator reads the two ints itself and passes them. */

static PyObject *cb_long_slot, *cb_double_slot, *cmp_slot;
static PyInterpreterState *cb_interp;
static pthread_key_t cb_tstate_key;
static int cb_key_made;

static long
floor_long_held(long x)
{
    PyObject *arg = PyLong_FromLong(x), *r;
    long v;
    if (arg == NULL)
        goto error;
    r = PyObject_Vectorcall(cb_long_slot, &arg, 1, NULL);
    Py_DECREF(arg);
    if (r == NULL)
        goto error;
    v = PyLong_AsLong(r);
    Py_DECREF(r);
    if (v == -1 && PyErr_Occurred())
        goto error;
    return v;
error:
    PyErr_WriteUnraisable(cb_long_slot);
    return 0;
}

static double
floor_double_held(double a, double b)
{
    PyObject *args[2] = {PyFloat_FromDouble(a), PyFloat_FromDouble(b)}, *r;
    double v;
    if (args[0] == NULL || args[1] == NULL) {
        Py_XDECREF(args[0]);
        Py_XDECREF(args[1]);
        goto error;
    }
    r = PyObject_Vectorcall(cb_double_slot, args, 2, NULL);
    Py_DECREF(args[0]);
    Py_DECREF(args[1]);
    if (r == NULL)
        goto error;
    if (to_double(r, &v) < 0) {
        Py_DECREF(r);
        goto error;
    }
    Py_DECREF(r);
    return v;
error:
    PyErr_WriteUnraisable(cb_double_slot);
    return 0.0;
}

static long
floor_long_ensure(long x)
{
    PyGILState_STATE s = PyGILState_Ensure();
    long v = floor_long_held(x);
    PyGILState_Release(s);
    return v;
}

static double
floor_double_ensure(double a, double b)
{
    PyGILState_STATE s = PyGILState_Ensure();
    double v = floor_double_held(a, b);
    PyGILState_Release(s);
    return v;
}

/* Runs at the exit of a thread that made a kept thread state: the GIL is
   not held then, so take it to clear and delete the state. */
static void
drop_tstate(void *tstate)
{
    PyEval_RestoreThread((PyThreadState *)tstate);
    PyThreadState_Clear((PyThreadState *)tstate);
    PyThreadState_DeleteCurrent();
}

/* This thread's kept state, the GIL taken with it. */
static void
enter_kept(void)
{
    PyThreadState *t = pthread_getspecific(cb_tstate_key);
    if (t == NULL) {
        /* PyThreadState_New does not need the GIL (PyGILState_Ensure calls
           it without); the key's value must be set before the first swap. */
        t = PyThreadState_New(cb_interp);
        pthread_setspecific(cb_tstate_key, t);
    }
    PyEval_RestoreThread(t);
}

static long
floor_long_thread(long x)
{
    long v;
    enter_kept();
    v = floor_long_held(x);
    PyEval_SaveThread();
    return v;
}

static double
floor_double_thread(double a, double b)
{
    double v;
    enter_kept();
    v = floor_double_held(a, b);
    PyEval_SaveThread();
    return v;
}

static int
set_slot(PyObject **slot, PyObject *func)
{
    if (!PyCallable_Check(func)) {
        PyErr_Format(PyExc_TypeError, "expected a callable, got %.200s", Py_TYPE(func)->tp_name);
        return -1;
    }
    Py_XSETREF(*slot, Py_NewRef(func));
    return 0;
}

static int
add_address(PyObject *d, const char *name, void (*f)(void))
{
    PyObject *a = PyLong_FromVoidPtr((void *)f);
    int r = a == NULL ? -1 : PyDict_SetItemString(d, name, a);
    Py_XDECREF(a);
    return r;
}

#define ADDR(f) ((void (*)(void))(f))

/* callback_floor(func_long, func_double) -> {name: address}: C functions
   `long f(long)` and `double f(double, double)` calling the two callables. */
static PyObject *
callback_floor(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *d;
    (void)module;
    if (nargs != 2)
        return wrong_count("callback_floor", nargs, 2);
    if (set_slot(&cb_long_slot, args[0]) < 0 || set_slot(&cb_double_slot, args[1]) < 0)
        return NULL;
    if (!cb_key_made) {
        int err = pthread_key_create(&cb_tstate_key, drop_tstate);
        if (err != 0) {
            errno = err;
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        cb_key_made = 1;
    }
    cb_interp = PyInterpreterState_Get();
    d = PyDict_New();
    if (d == NULL || add_address(d, "long_held", ADDR(floor_long_held)) < 0
        || add_address(d, "long_ensure", ADDR(floor_long_ensure)) < 0
        || add_address(d, "long_thread", ADDR(floor_long_thread)) < 0
        || add_address(d, "double_held", ADDR(floor_double_held)) < 0
        || add_address(d, "double_ensure", ADDR(floor_double_ensure)) < 0
        || add_address(d, "double_thread", ADDR(floor_double_thread)) < 0) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

static int
floor_compare(const void *a, const void *b)
{
    PyObject *args[2], *r;
    long v;
    if (PyErr_Occurred())
        return 0; /* an earlier comparison failed: finish quickly, raise after */
    args[0] = PyLong_FromLong(*(const int *)a);
    args[1] = PyLong_FromLong(*(const int *)b);
    if (args[0] == NULL || args[1] == NULL) {
        Py_XDECREF(args[0]);
        Py_XDECREF(args[1]);
        return 0;
    }
    r = PyObject_Vectorcall(cmp_slot, args, 2, NULL);
    Py_DECREF(args[0]);
    Py_DECREF(args[1]);
    if (r == NULL)
        return 0;
    v = PyLong_AsLong(r);
    Py_DECREF(r);
    if (v == -1 && PyErr_Occurred())
        return 0;
    return v < 0 ? -1 : v > 0;
}

/* qsort_ints(buffer, cmp): sort a writable buffer of C ints with qsort,
   comparing with cmp(x, y) on the ints themselves (the GIL stays held). */
static PyObject *
qsort_ints(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    (void)module;
    if (nargs != 2)
        return wrong_count("qsort_ints", nargs, 2);
    if (set_slot(&cmp_slot, args[1]) < 0
        || PyObject_GetBuffer(args[0], &view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    qsort(view.buf, (size_t)view.len / sizeof(int), sizeof(int), floor_compare);
    PyBuffer_Release(&view);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

/* ---- loading ---- */

#define FASTCALL(f) ((PyCFunction)(void (*)(void))(f)) /* silences -Wcast-function-type */

static struct wrapper {
    PyMethodDef def; /* the Python function; must outlive it, hence static */
    void **target;   /* where load() stores the C function's address */
    int in_process;  /* looked up in the running process (libc), not the library */
} wrappers[] = {
    {{"noop", w_noop, METH_NOARGS, NULL}, (void **)&noop_p, 0},
    {{"add_i32", FASTCALL(w_add_i32), METH_FASTCALL, NULL}, (void **)&add_i32_p, 0},
    {{"add_f64", FASTCALL(w_add_f64), METH_FASTCALL, NULL}, (void **)&add_f64_p, 0},
    {{"mix3", FASTCALL(w_mix3), METH_FASTCALL, NULL}, (void **)&mix3_p, 0},
    {{"mix4", FASTCALL(w_mix4), METH_FASTCALL, NULL}, (void **)&mix4_p, 0},
    {{"sum8_i64", FASTCALL(w_sum8_i64), METH_FASTCALL, NULL}, (void **)&sum8_i64_p, 0},
    {{"mix12", FASTCALL(w_mix12), METH_FASTCALL, NULL}, (void **)&mix12_p, 0},
    {{"vec3_norm2", FASTCALL(w_vec3_norm2), METH_FASTCALL, NULL}, (void **)&vec3_norm2_p, 0},
    {{"sum_bytes", FASTCALL(w_sum_bytes), METH_FASTCALL, NULL}, (void **)&sum_bytes_p, 0},
    {{"strlen", FASTCALL(w_strlen), METH_FASTCALL, NULL}, (void **)&strlen_p, 1},
};

/* load(path) -> {name: function}.  The library stays loaded for the life of
   the process: the returned functions may be called at any time. */
static PyObject *
load(PyObject *module, PyObject *path)
{
    PyObject *encoded, *funcs;
    void *lib;
    size_t i;

    if (!PyUnicode_FSConverter(path, &encoded))
        return NULL;
    lib = dlopen(PyBytes_AS_STRING(encoded), RTLD_NOW | RTLD_LOCAL);
    Py_DECREF(encoded);
    if (lib == NULL)
        return PyErr_Format(PyExc_OSError, "%s", dlerror());

    /* Resolve every target before creating any function. */
    for (i = 0; i < sizeof wrappers / sizeof wrappers[0]; i++) {
        struct wrapper *w = &wrappers[i];
        void *sym = dlsym(w->in_process ? RTLD_DEFAULT : lib, w->def.ml_name);
        if (sym == NULL)
            return PyErr_Format(PyExc_OSError, "%s: %s", w->def.ml_name, dlerror());
        *w->target = sym; /* the POSIX idiom for storing a function address */
    }

    funcs = PyDict_New();
    if (funcs == NULL)
        return NULL;
    for (i = 0; i < sizeof wrappers / sizeof wrappers[0]; i++) {
        PyObject *f = PyCFunction_NewEx(&wrappers[i].def, module, NULL);
        if (f == NULL || PyDict_SetItemString(funcs, wrappers[i].def.ml_name, f) < 0) {
            Py_XDECREF(f);
            Py_DECREF(funcs);
            return NULL;
        }
        Py_DECREF(f);
    }
    return funcs;
}

static PyMethodDef module_methods[] = {
    {"load", load, METH_O, "load(path) -> {name: function}: resolve the targets."},
    {"callback_floor", FASTCALL(callback_floor), METH_FASTCALL,
     "callback_floor(func_long, func_double) -> {name: address} of the floor's C callbacks."},
    {"qsort_ints", FASTCALL(qsort_ints), METH_FASTCALL,
     "qsort_ints(buffer, cmp): qsort C ints, cmp(x, y) given the ints."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_fastffi_bench_handwritten",
    .m_doc = "Hand-written wrappers of the benchmark targets (the floor).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__fastffi_bench_handwritten(void)
{
    return PyModule_Create(&module_def);
}
