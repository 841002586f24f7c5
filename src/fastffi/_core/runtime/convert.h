/* Python <-> C scalar conversion, shared by every tier so that every tier
 * accepts the same values and raises the same exceptions with the same text.
 *
 * Converters write a 64-bit register image: integers sign- or zero-extended to
 * 64 bits (so the 32-bit extension clang-built callees rely on is implied),
 * f64 as its bits, f32 as its bits in the low half, pointers as addresses.
 * Fast paths come first: exact int/float, then __index__/__float__, buffers. */
#ifndef FASTFFI_CONVERT_H
#define FASTFFI_CONVERT_H

#include "core.h"

typedef union {
    uint64_t u;
    int64_t i;
    double d;
    float f;
    void *p;
} Slot;

/* A value of a wide kind (kind_is_wide: c64, c128, longdouble), laid out as
 * in memory: a complex value is its real then its imaginary part (C11
 * 6.2.5p13), a long double its sizeof(long double) bytes.  Only the tiers,
 * fields and callbacks that take these kinds use it; the Slot paths never do. */
typedef union {
    _Alignas(16) unsigned char b[16];
    float f[2];
    double d[2];
    long double ld;
} Wide;

_Static_assert(sizeof(long double) <= 16 && sizeof(double _Complex) == 16, "a wide value fits a Wide");


struct CallbackObject;

/* A held-exception scope (callbacks/scope.c): pushed by a conversion that
 * passes a Callback (or wraps a Python callable for the call), popped when
 * the call's buffers are released.  It lives in one entry of the call's
 * BufferList -- the entry a buffer for that argument would have used -- so a
 * call that is passed no callback pays nothing for it, and the tiers' one
 * release path pops it.  `marker` is where Py_buffer has `obj` (a common
 * initial sequence, C11 6.5.2.3p6), which is how the release tells the two
 * apart. */
typedef struct ScopeRecord {
    void *unused;                 /* Py_buffer.buf */
    PyObject *marker;             /* Py_buffer.obj: &scope_marker */
    struct ScopeRecord *prev;     /* the record below on this thread's stack */
    struct CallbackObject *cb;    /* the Callback the call was passed (owned when `owned`) */
    const void *call;             /* the call's BufferList: records of one call share it */
    PyObject *held;               /* the exception held for the call, or NULL */
    int owned;                    /* a temporary Callback wrapping a callable: closed and dropped at pop */
} ScopeRecord;

typedef union {
    Py_buffer view;
    ScopeRecord scope;
} BufferEntry;

_Static_assert(sizeof(BufferEntry) == sizeof(Py_buffer), "a scope record fits in a Py_buffer entry");
_Static_assert(offsetof(ScopeRecord, marker) == offsetof(Py_buffer, obj), "the marker is where obj is");

/* Buffers a call has acquired and must release after it returns. */
typedef struct {
    BufferEntry *views;
    int count;
} BufferList;

/* A zeroed object never used as one: its address marks scope records. */
extern PyObject scope_marker;
/* Push a record for `cb` into the next entry of `bufs`; `owned`: the record
 * takes the reference (a temporary Callback).  Never fails. */
void scope_push(BufferList *bufs, struct CallbackObject *cb, int owned);
/* Pop a record: 1 when it held an exception and that exception is now the
 * current one (the call must return NULL), else 0. */
int scope_pop(ScopeRecord *r);

/* Release in reverse order, so scope records leave this thread's stack last
 * in, first out.  Returns 1 when a callback's exception was held for the
 * call and is now set: the tier drops its result and returns NULL. */
static inline int buffers_release(BufferList *b)
{
    int raised = 0;
    for (int i = b->count; i-- > 0;) {
        BufferEntry *e = &b->views[i];
        if (e->view.obj == &scope_marker)
            raised |= scope_pop(&e->scope);
        else
            PyBuffer_Release(&e->view);
    }
    b->count = 0;
    return raised;
}

/* The same, out of line: what the tiers run after the call, so their call
 * paths carry none of the loop (calls that acquired nothing never reach it). */
int buffers_release_after_call(BufferList *b);

/* Where a message points: "add() argument 2: ..." when index >= 1, or
 * "Point.x: ..." (name is the whole prefix) when index == 0.  The index is
 * a full register so that building one on the fast path is one instruction
 * (an int would leave padding the compiler preserves with a mask). */
typedef struct {
    PyObject *name;
    Py_ssize_t index;
} ErrCtx;

/* What a call checks of a pointer argument beyond its kind, one byte per
 * argument decided once per signature (fastffi/tiers/checks.py, published as
 * _core.ARG_*).  Only ARG_BYTES_SLOW is read on a fast path; the others are
 * read by convert_pointer_slow.  With its byte 0 a pointer argument is
 * converted as the list form's "pointer" and "string" always were. */
enum {
    ARG_BYTES_SLOW = 1,   /* bytes leave the fast path: refused (ARG_MUTABLE) or size-checked */
    ARG_MUTABLE = 2,      /* non-const pointee: read-only buffers refused, a str passed as a copy */
    ARG_NUL = 4,          /* const char *: a buffer other than bytes/bytearray must hold a NUL */
    ARG_TYPED = 8,        /* the pointee is known: fastffi objects type-checked, buffers sized */
    ARG_FUNCTION = 16,    /* a function pointer: a Callback's signature checked, a callable wrapped */
};

/* The pointee description of an ARG_TYPED argument, a tuple made by
 * fastffi/tiers/checks.py: (pointee name, parameter name, pointee size,
 * accepted CData classes). */
enum { POINTEE_NAME, POINTEE_PARAM, POINTEE_SIZE, POINTEE_CLASSES, POINTEE__COUNT };

/* The pointee description of an ARG_FUNCTION argument (checks.py): (the
 * function key a Callback's .key must equal, the parameter's signature for
 * messages, wrap(callable) -> a temporary Callback of that signature). */
enum { FNPOINTEE_KEY, FNPOINTEE_SIGNATURE, FNPOINTEE_WRAP, FNPOINTEE__COUNT };

/* Cold paths, in convert.c.  Each returns -1 with an exception set. */
int convert_int_slow(int kind, PyObject *o, Slot *out, ErrCtx ctx);
int convert_float_slow(int kind, PyObject *o, Slot *out, ErrCtx ctx);
/* Whether `o` is a complex number a real kind must refuse: complex, or a
 * type with __complex__ (numpy.complex64 is no complex subclass, and its
 * __float__ drops the imaginary part with only a warning). */
int is_complex_number(PyObject *o);
int convert_bool_slow(PyObject *o, Slot *out, ErrCtx ctx);
/* i128/u128 write two slots (out[0] the low eightbyte, out[1] the
 * high one): every caller passing these kinds gives 16 bytes.  wstring: a
 * str becomes a NUL-terminated wchar_t copy held in `bufs`. */
int convert_int128(int kind, PyObject *o, Slot *out, ErrCtx ctx);
int convert_wstring_slow(PyObject *o, Slot *out, BufferList *bufs, ErrCtx ctx, const FunctionObject *f);
PyObject *box_int128(int kind, const Slot *r);
/* A str's NUL-terminated wchar_t copy, in a new bytearray (NULL: raised). */
PyObject *wstring_copy(PyObject *o, ErrCtx ctx);
PyObject *box_wstring(const wchar_t *s);
/* `f` NULL: no checks; else the checks of its argument ctx.index - 1. */
int convert_pointer_slow(int kind, PyObject *o, Slot *out, BufferList *bufs, ErrCtx ctx, const FunctionObject *f);
int raise_type_error(PyObject *expected, PyObject *o, ErrCtx ctx);
int raise_overflow(PyObject *expected, PyObject *value, ErrCtx ctx);
int raise_struct_mismatch(PyObject *cls, PyObject *o, ErrCtx ctx);
PyObject *kind_name(int kind);

/* A wide kind's value from Python (complex, float, int; numpy.longdouble read
 * exactly from its buffer) and back (complex; numpy.longdouble through the
 * package's box, runtime/init.c).  In convert_wide.c. */
int convert_wide(int kind, PyObject *o, Wide *out, ErrCtx ctx);
PyObject *box_wide(int kind, const Wide *w);
/* box(raw bytes, float approximation) -> the longdouble result object. */
extern PyObject *longdouble_box;

/* Inclusive ranges of the integer kinds, indexed by Kind.  kind_span is
 * max - min, so "v in range" is one unsigned compare of v - min.  For the
 * 64-bit unsigned kinds the span is INT64_MAX: it is only used on compact
 * ints (one digit: |v| < 2**30), where it still rejects every negative value. */
extern const int64_t kind_min[KIND__COUNT];
extern const uint64_t kind_max[KIND__COUNT];
extern const uint64_t kind_span[KIND__COUNT];

/* One value of `kind`, always inlined (the per-call fast path of every
 * tier's conversions).  `f` is the function whose argument `i` this is, or
 * NULL (a struct field, a memory helper): its per-argument checks are read
 * only in the pointer case, and there only for bytes (ARG_BYTES_SLOW) or off
 * the fast path, so other kinds pay nothing for them. */
static inline COMPAT_ALWAYS_INLINE int convert_value(int kind, PyObject *o, Slot *out, BufferList *bufs, ErrCtx ctx,
                                const FunctionObject *f, Py_ssize_t i)
{
    /* Integers first, without a jump table: they are most arguments. */
    if (kind >= KIND_I8 && kind <= KIND_U64) {
        int64_t v;
        if (PyLong_CheckExact(o) && compat_long_compact_value(o, &v)
            && (uint64_t)v - (uint64_t)kind_min[kind] <= kind_span[kind]) {
            out->i = v;
            return 0;
        }
        return convert_int_slow(kind, o, out, ctx);
    }
    switch (kind) {
    case KIND_F64:
        if (PyFloat_CheckExact(o)) {
            out->d = PyFloat_AS_DOUBLE(o);
            return 0;
        }
        return convert_float_slow(kind, o, out, ctx);
    case KIND_F32:
        if (PyFloat_CheckExact(o)) {
            double d = PyFloat_AS_DOUBLE(o);
            float f32 = (float)d;
            /* Same rule as struct.pack("<f"): finite values that round to
             * infinity do not fit; inf and nan pass. */
            if (!isinf(f32) || isinf(d)) {
                out->u = 0;
                out->f = f32;
                return 0;
            }
        }
        return convert_float_slow(kind, o, out, ctx);
    case KIND_BOOL:
        if (o == Py_True || o == Py_False) {
            out->u = (o == Py_True);
            return 0;
        }
        return convert_bool_slow(o, out, ctx);
    case KIND_POINTER:
    case KIND_STRING:
        if (PyBytes_CheckExact(o)) {
            if (f == NULL || !(f->argchecks[i] & ARG_BYTES_SLOW)) {
                /* Immutable and kept alive by the caller's argument array. */
                out->p = PyBytes_AS_STRING(o);
                return 0;
            }
        }
        else if (o == Py_None) {
            out->p = NULL;
            return 0;
        }
        return convert_pointer_slow(kind, o, out, bufs, ctx, f);
    case KIND_I128:
    case KIND_U128: {
        int64_t v;
        if (PyLong_CheckExact(o) && compat_long_compact_value(o, &v) && (v >= 0 || kind == KIND_I128)) {
            out[0].i = v;
            out[1].i = v < 0 ? -1 : 0;
            return 0;
        }
        return convert_int128(kind, o, out, ctx);
    }
    case KIND_WSTRING:
        if (o == Py_None) {
            out->p = NULL;
            return 0;
        }
        return convert_wstring_slow(o, out, bufs, ctx, f);
    default:
        PyErr_Format(PyExc_SystemError, "fastffi: no converter for kind %d", kind);
        return -1;
    }
}

/* A value with no per-argument checks: struct fields, memory helpers. */
static inline int convert_scalar(int kind, PyObject *o, Slot *out, BufferList *bufs, ErrCtx ctx)
{
    return convert_value(kind, o, out, bufs, ctx, NULL, 0);
}

/* Argument i (0-based) of `f`, with the checks its signature asks for. */
static inline COMPAT_ALWAYS_INLINE int convert_argument(const FunctionObject *f, Py_ssize_t i, int kind, PyObject *o, Slot *out,
                                   BufferList *bufs)
{
    return convert_value(kind, o, out, bufs, (ErrCtx){f->name, i + 1}, f, i);
}

/* Where libffi finds an argument of `kind` inside its 8-byte slot.  Integers
 * are stored widened; on a big-endian machine the narrow value is at the end. */
static inline void *slot_value_address(int kind, Slot *s, Py_ssize_t size)
{
#if PY_BIG_ENDIAN
    if (!kind_is_float(kind))
        return (char *)s + sizeof(Slot) - size;
#else
    (void)size;
#endif
    (void)kind;
    return s;
}

/* A non-const `char *` result: a fastffi.CString carrying `s` (runtime/cstring.c). */
extern PyTypeObject CString_Type;
PyObject *cstring_from(const char *s);
int cstring_ready(void);

/* Box a scalar return read from a register image.  Narrow integer returns
 * are truncated to their declared width first: neither the SysV psABI nor
 * AAPCS64 defines the upper bits of a char/short/_Bool return. */
static inline PyObject *box_value(int kind, const Slot *r, const FunctionObject *f)
{
    switch (kind) {
    case KIND_VOID: Py_RETURN_NONE;
    case KIND_BOOL: return PyBool_FromLong((uint8_t)r->u != 0);
    case KIND_I8: return PyLong_FromLong((int8_t)r->u);
    case KIND_I16: return PyLong_FromLong((int16_t)r->u);
    case KIND_I32: return PyLong_FromLong((int32_t)r->u);
    case KIND_I64: return PyLong_FromLongLong((int64_t)r->u);
    case KIND_U8: return PyLong_FromLong((uint8_t)r->u);
    case KIND_U16: return PyLong_FromLong((uint16_t)r->u);
    case KIND_U32: return PyLong_FromUnsignedLong((uint32_t)r->u);
    case KIND_U64: return PyLong_FromUnsignedLongLong(r->u);
    case KIND_F32: return PyFloat_FromDouble(r->f);
    case KIND_F64: return PyFloat_FromDouble(r->d);
    case KIND_POINTER:
        /* As for strings below: only a pointer result reads the flags
         * (a function pointer's Function, a typed pointer's Pointer). */
        if (f != NULL && (f->flags & FN_MADE_RESULT))
            return function_result(f, r->p);
        return PyLong_FromVoidPtr(r->p);
    case KIND_STRING: {
        if (r->p == NULL)
            Py_RETURN_NONE;
        const char *s = (const char *)r->p;
        /* The flag is read here, not by the callers: no other kind pays. */
        if (f != NULL && (f->flags & FN_STRING_ADDRESS))
            return cstring_from(s);
        return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape");
    }
    case KIND_I128:
    case KIND_U128:
        return box_int128(kind, r);
    case KIND_WSTRING:
        return box_wstring((const wchar_t *)r->p);
    default:
        PyErr_Format(PyExc_SystemError, "fastffi: cannot box kind %d", kind);
        return NULL;
    }
}

/* A value read from memory (fastffi.read, struct fields): strings are str. */
static inline PyObject *box_scalar(int kind, const Slot *r)
{
    return box_value(kind, r, NULL);
}

/* A function's return value: a non-const `char *` result keeps its address
 * (FN_STRING_ADDRESS, decided at creation; tested only on the string case). */
static inline PyObject *box_return(const FunctionObject *f, const Slot *r)
{
    /* int, the commonest return, before the jump table (as convert_value
     * takes integers first). */
    if (f->retkind == KIND_I32)
        return PyLong_FromLong((int32_t)r->u);
    return box_value(f->retkind, r, f);
}

/* A string result (`char *`, `wchar_t *`) may point into a copy the call
 * made of a str argument (strchr on a non-const `char *`, wcschr): it is
 * decoded while the copies live, then they are released.  NULL when the
 * decoding failed or a callback passed to the call raised. */
PyObject *box_string_then_release(const FunctionObject *f, const Slot *r, BufferList *b);

static inline int kind_is_string(int kind)
{
    return kind == KIND_STRING || kind == KIND_WSTRING;
}

#endif
