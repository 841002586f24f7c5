/* W^X executable memory for the JIT tier.
 *
 * A page is never writable and executable at once: code is written while its
 * pages are read-write, the instruction cache is flushed, then the pages are
 * sealed read-execute -- and a sealed page is never written again (another
 * thread may be running in it).  On any refusal the mapping is freed and the
 * caller falls back to the plan tier.
 *
 * jit_supported() probes once per process, thread-safely (pthread_once: no
 * caller sees a provisional answer): map a page, write one return
 * instruction, flush, mprotect it read-execute.  The page is never executed,
 * so a system that blocks executable memory answers "no" instead of killing
 * the process.  (A policy that kills on mprotect(PROT_EXEC) itself can only be
 * avoided by capping FASTFFI_TIER below jit, so the probe never runs.)
 *
 * Test hook: FASTFFI_TEST_DENY_EXEC=1 in the environment makes the probe and
 * every installation fail as if mprotect had returned EPERM -- used where a
 * real seccomp filter cannot be applied (qemu-user). */
#include "core.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Read once: it is set in the environment before the process starts. */
static int deny_exec_for_tests(void)
{
    static int cached = -1;
    if (cached < 0) {
        const char *v = getenv("FASTFFI_TEST_DENY_EXEC");
        cached = v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
    }
    return cached;
}

static size_t page_size(void)
{
    long n = sysconf(_SC_PAGESIZE);
    return n > 0 ? (size_t)n : 4096;
}

/* mprotect to read+execute, or fail with errno set. */
static int seal(void *p, size_t len)
{
    if (deny_exec_for_tests()) {
        errno = EPERM;
        return -1;
    }
    return mprotect(p, len, PROT_READ | PROT_EXEC);
}

static const unsigned char return_instruction[] = {
#if defined(__x86_64__)
    0xC3,                      /* ret */
#elif defined(__aarch64__)
    0xC0, 0x03, 0x5F, 0xD6,    /* ret (0xD65F03C0, little-endian) */
#else
    0x00,
#endif
};

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int probe_ran;     /* written inside pthread_once only */
static int probe_result;
static int probe_errno;

static void probe(void)
{
    probe_ran = 1;
    size_t len = page_size();
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        probe_errno = errno;
        return;
    }
    memcpy(p, return_instruction, sizeof return_instruction);
    __builtin___clear_cache((char *)p, (char *)p + sizeof return_instruction);
    if (seal(p, len) == 0)
        probe_result = 1;
    else
        probe_errno = errno;
    munmap(p, len);
}

static PyObject *jit_supported(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
#if defined(__x86_64__) || defined(__aarch64__)
    pthread_once(&probe_once, probe);
    return PyBool_FromLong(probe_result);
#else
    Py_RETURN_FALSE;
#endif
}

/* Whether the probe has run in this process (it never runs when the tier
 * ceiling excludes the JIT); reading it does not run it. */
static PyObject *jit_probe_ran(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    return PyBool_FromLong(__atomic_load_n(&probe_ran, __ATOMIC_ACQUIRE));
}

static PyObject *jit_probe_errno(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    pthread_once(&probe_once, probe);
    return PyLong_FromLong(probe_errno);
}

/* ---- CodeRegion: one sealed mapping of generated code ---- */

typedef struct {
    PyObject_HEAD
    void *base;
    size_t mapped;     /* bytes mapped (whole pages) */
    size_t used;       /* bytes of code */
    PyObject *offsets; /* tuple: where each part starts (the layout is decided here only) */
    PyObject *weakreflist;
} CodeRegionObject;

/* Fresh read-write pages for a region, taken from a chunk mapped and
 * prefaulted ahead of need: one mmap and one round of page faults serve many
 * regions, so installing code costs little more than its mprotect.  Pages are
 * handed out once, in order, so a region never shares a page with another
 * (a sealed page is never written again); each region unmaps its own pages.
 * Nothing in a chunk is executable until a region seals its pages.  Callers
 * hold the GIL. */
static char *chunk_next, *chunk_end;

static void *fresh_pages(size_t len)
{
    size_t page = page_size();
    size_t chunk = 32 * 4096 > 2 * page ? 32 * 4096 : 2 * page;
    if ((size_t)(chunk_end - chunk_next) < len) {
        if (len > chunk / 2) {   /* a large region gets its own mapping */
            void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            return p == MAP_FAILED ? NULL : p;
        }
        void *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        if (chunk_next != chunk_end)   /* the old chunk's rest will never be used */
            munmap(chunk_next, (size_t)(chunk_end - chunk_next));
        chunk_next = p;
        chunk_end = (char *)p + chunk;
    }
    void *p = chunk_next;
    chunk_next += len;
    return p;
}

/* ---- which code may be installed ----
 *
 * A region holds only what fastffi's emitters produced: each emitted piece of
 * code is recorded (_jit_record, called by fastffi.tiers.jit on every
 * emitter's output) and the region constructor takes only recorded pieces,
 * each once -- so the constructor is no primitive turning arbitrary bytes into
 * an executable entry.  (Python code in this process can still reach both
 * private names; the audit event below is what a hardened deployment relies
 * on, as with ctypes.)  The record is a set of bytes objects, compared by
 * value; a piece leaves it when a region takes it, so it holds only what is
 * between emission and installation.  Callers hold the GIL. */
static PyObject *recorded;

static PyObject *jit_record(PyObject *m, PyObject *code)
{
    (void)m;
    if (!PyBytes_CheckExact(code)) {
        PyErr_SetString(PyExc_TypeError, "_jit_record: expected bytes");
        return NULL;
    }
    if (recorded == NULL && (recorded = PySet_New(NULL)) == NULL)
        return NULL;
    if (PySet_Add(recorded, code) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Entry points in one region start 16-byte aligned. */
#define ENTRY_ALIGN 16

/* _CodeRegion(parts: tuple[bytes, ...], what: str): the parts laid end to end,
 * each at a 16-byte aligned offset (zero padding, never executed), in fresh
 * pages: copy, flush, seal.  Every part must be a recorded emitter output
 * (ValueError otherwise); the audit event "fastffi.jit" (what, bytes of code)
 * is raised before anything is mapped.  OSError when the system refuses
 * executable memory (the caller falls back to the plan tier). */
static PyObject *region_new(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
    PyObject *parts, *what;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "_CodeRegion takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O!U", &PyTuple_Type, &parts, &what))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(parts);
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "_CodeRegion: no code");
        return NULL;
    }
    size_t used = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *part = PyTuple_GET_ITEM(parts, i);
        int known = PyBytes_CheckExact(part) && recorded != NULL ? PySet_Contains(recorded, part) : 0;
        if (known < 0)
            return NULL;
        if (!known) {
            PyErr_SetString(PyExc_ValueError, "_CodeRegion: only code emitted by fastffi's JIT can be installed");
            return NULL;
        }
        used = (used + ENTRY_ALIGN - 1) / ENTRY_ALIGN * ENTRY_ALIGN + (size_t)PyBytes_GET_SIZE(part);
    }
    for (Py_ssize_t i = 0; i < n; i++)   /* each recording serves one installation */
        if (PySet_Discard(recorded, PyTuple_GET_ITEM(parts, i)) < 0)
            return NULL;
    if (PySys_Audit("fastffi.jit", "On", what, (Py_ssize_t)used) < 0)
        return NULL;
    size_t page = page_size();
    size_t len = used ? (used + page - 1) / page * page : page;
    char *p = fresh_pages(len);
    if (p == NULL)
        return PyErr_SetFromErrno(PyExc_OSError);
    PyObject *offsets = PyTuple_New(n);
    if (offsets == NULL) {
        munmap(p, len);
        return NULL;
    }
    size_t at = 0;
    for (Py_ssize_t i = 0; i < n; i++) {   /* fresh pages are zero: the padding is already there */
        PyObject *part = PyTuple_GET_ITEM(parts, i);
        at = (at + ENTRY_ALIGN - 1) / ENTRY_ALIGN * ENTRY_ALIGN;
        PyObject *offset = PyLong_FromSize_t(at);
        if (offset == NULL) {
            Py_DECREF(offsets);
            munmap(p, len);
            return NULL;
        }
        PyTuple_SET_ITEM(offsets, i, offset);
        memcpy(p + at, PyBytes_AS_STRING(part), (size_t)PyBytes_GET_SIZE(part));
        at += (size_t)PyBytes_GET_SIZE(part);
    }
    __builtin___clear_cache(p, p + used);
    if (seal(p, len) != 0) {
        int saved = errno;
        Py_DECREF(offsets);
        munmap(p, len);
        errno = saved;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    CodeRegionObject *self = (CodeRegionObject *)cls->tp_alloc(cls, 0);
    if (self == NULL) {
        Py_DECREF(offsets);
        munmap(p, len);
        return NULL;
    }
    self->offsets = offsets;
    self->base = p;
    self->mapped = len;
    self->used = used;
    return (PyObject *)self;
}

static void region_dealloc(CodeRegionObject *self)
{
    /* Only reached when no Function holds the region: nothing can be
     * executing in it (a running call keeps its Function alive). */
    if (self->weakreflist != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    if (self->base != NULL)
        munmap(self->base, self->mapped);
    Py_XDECREF(self->offsets);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *region_get_address(CodeRegionObject *self, void *c) { return PyLong_FromVoidPtr(self->base); }
static PyObject *region_get_mapped(CodeRegionObject *self, void *c) { return PyLong_FromSize_t(self->mapped); }
static PyObject *region_get_used(CodeRegionObject *self, void *c) { return PyLong_FromSize_t(self->used); }
static PyObject *region_get_offsets(CodeRegionObject *self, void *c) { return Py_NewRef(self->offsets); }

static PyGetSetDef region_getset[] = {
    {"address", (getter)region_get_address, NULL, "address of the first byte of code", NULL},
    {"mapped", (getter)region_get_mapped, NULL, "bytes mapped (whole pages)", NULL},
    {"used", (getter)region_get_used, NULL, "bytes of code", NULL},
    {"offsets", (getter)region_get_offsets, NULL, "where each part starts, in the order given", NULL},
    {NULL},
};

PyTypeObject CodeRegion_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fastffi._core._CodeRegion",
    .tp_basicsize = sizeof(CodeRegionObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Generated code in pages sealed read+execute (never writable again).",
    .tp_new = region_new,
    .tp_dealloc = (destructor)region_dealloc,
    .tp_getset = region_getset,
    .tp_weaklistoffset = offsetof(CodeRegionObject, weakreflist),
};

void *code_region_address(PyObject *obj, size_t offset)
{
    if (Py_TYPE(obj) != &CodeRegion_Type) {
        PyErr_SetString(PyExc_TypeError, "expected a CodeRegion");
        return NULL;
    }
    CodeRegionObject *r = (CodeRegionObject *)obj;
    if (offset >= r->used) {
        PyErr_SetString(PyExc_ValueError, "entry offset outside the code");
        return NULL;
    }
    return (char *)r->base + offset;
}

static PyObject *get_page_size(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    return PyLong_FromSize_t(page_size());
}

PyMethodDef execmem_methods[] = {
    {"jit_supported", jit_supported, METH_NOARGS,
     "Whether executable memory can be had W^X (probed once per process; never executes anything)."},
    {"jit_probe_errno", jit_probe_errno, METH_NOARGS, "errno of a failed probe (0 when it succeeded)."},
    {"jit_probe_ran", jit_probe_ran, METH_NOARGS, "Whether the probe has run (does not run it)."},
    {"page_size", get_page_size, METH_NOARGS, "sysconf(_SC_PAGESIZE)."},
    {"_jit_record", jit_record, METH_O, NULL},
    {NULL},
};
