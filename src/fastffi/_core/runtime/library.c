/* Library handles: dlopen/dlsym/dlclose and the lifetime rules.
 *
 * close() marks the handle closed at once, so every function of the library
 * refuses new calls with LibraryClosedError.  Calls may still be running code
 * of the library -- ones that released the GIL, and the one whose callback
 * called close() -- so the real dlclose() waits until the last of them
 * returns: `inflight` holds 1 for "open" and one per running call (every
 * call, tiers/call.h), and whoever drops it to 0 unloads.  A handle
 * that is garbage-collected without close() is not unloaded: raw addresses
 * taken with symbol() may still be in use (ctypes makes the same choice). */
#include "core.h"

#include <dlfcn.h>

static void library_unload(LibraryObject *self)
{
    if (!self->unloaded && self->handle != NULL) {
        dlclose(self->handle);
        self->unloaded = 1;
    }
}

void library_last_call_returned(LibraryObject *lib)
{
    library_unload(lib);
}

/* LibraryHandle(name, path, mode): `path` is the file-system encoded bytes to
 * pass to dlopen, or None for the running process; `name` is for messages. */
static PyObject *library_new(PyTypeObject *cls, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"name", "path", "mode", NULL};
    PyObject *name, *path_obj;
    int mode;
    if (core_require_init() < 0)
        return NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOi", keywords, &name, &path_obj, &mode))
        return NULL;
    const char *path = NULL;
    if (path_obj != Py_None) {
        if (!PyBytes_Check(path_obj)) {
            PyErr_SetString(PyExc_TypeError, "path must be bytes or None");
            return NULL;
        }
        path = PyBytes_AS_STRING(path_obj);
    }
    /* PEP 578, as ctypes.dlopen: a hook sees every library load and may
     * refuse it by raising (README, "Audit events"). */
    if (PySys_Audit("fastffi.dlopen", "Oi", name, mode) < 0)
        return NULL;
    void *handle;
    Py_BEGIN_ALLOW_THREADS
    /* dlopen can run constructors that take a long time; nothing of ours is
     * touched while the GIL is released. */
    handle = dlopen(path, mode);
    Py_END_ALLOW_THREADS
    if (handle == NULL) {
        const char *err = dlerror();
        PyErr_Format(LibraryError, "cannot load library %R: %s", name, err ? err : "unknown error");
        return NULL;
    }
    LibraryObject *self = (LibraryObject *)cls->tp_alloc(cls, 0);
    if (self == NULL) {
        dlclose(handle);
        return NULL;
    }
    self->handle = handle;
    self->inflight = 1;   /* "open" */
    Py_INCREF(name);
    self->name = name;
    return (PyObject *)self;
}

static void library_dealloc(LibraryObject *self)
{
    Py_XDECREF(self->name);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *library_symbol(LibraryObject *self, PyObject *arg)
{
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "symbol name must be str, not %s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    if (self->closed) {
        PyErr_Format(LibraryClosedError, "library %R is closed", self->name);
        return NULL;
    }
    const char *name = PyUnicode_AsUTF8(arg);
    if (name == NULL)
        return NULL;
    /* As ctypes.dlsym (library, name); the library is named as dlopen was given it. */
    if (PySys_Audit("fastffi.dlsym", "OO", self->name, arg) < 0)
        return NULL;
    dlerror();
    void *address = dlsym(self->handle, name);
    /* dlsym may legitimately return NULL (e.g. an IFUNC or a symbol at 0);
     * only dlerror() says whether it failed.  A NULL address is still not
     * callable, so it is reported as missing too. */
    if (dlerror() != NULL || address == NULL) {
        PyErr_Format(SymbolError, "symbol %R not found in %R", arg, self->name);
        return NULL;
    }
    return PyLong_FromVoidPtr(address);
}

static PyObject *library_close(LibraryObject *self, PyObject *unused)
{
    (void)unused;
    if (!self->closed) {
        self->closed = 1;
        if (--self->inflight == 0)   /* "open" given up; a running call unloads when it returns */
            library_unload(self);
    }
    Py_RETURN_NONE;
}

static PyObject *library_get_closed(LibraryObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->closed);
}

static PyObject *library_get_unloaded(LibraryObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->unloaded);
}

static PyObject *library_get_inflight(LibraryObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(self->inflight - !self->closed);   /* the calls, not "open" */
}

static PyMethodDef library_methods[] = {
    {"symbol", (PyCFunction)library_symbol, METH_O, "Address of a symbol as an int."},
    {"close", (PyCFunction)library_close, METH_NOARGS, "Refuse further calls; unload once none is in flight."},
    {NULL},
};

static PyGetSetDef library_getset[] = {
    {"closed", (getter)library_get_closed, NULL, "close() was called", NULL},
    {"unloaded", (getter)library_get_unloaded, NULL, "dlclose() has been done", NULL},
    {"inflight", (getter)library_get_inflight, NULL, "calls of the library running now", NULL},
    {NULL},
};

static PyMemberDef library_members[] = {
    {"name", T_OBJECT, offsetof(LibraryObject, name), READONLY, "the name given to dlopen"},
    {NULL},
};

PyTypeObject Library_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fastffi._core.LibraryHandle",
    .tp_basicsize = sizeof(LibraryObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A dlopen() handle with a closed flag and a count of calls in flight.",
    .tp_new = library_new,
    .tp_dealloc = (destructor)library_dealloc,
    .tp_methods = library_methods,
    .tp_getset = library_getset,
    .tp_members = library_members,
};
