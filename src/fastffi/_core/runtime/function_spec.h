/* The function spec: everything the Python side decided for one function,
 * handed to make_function as one tuple -- fastffi/function_spec.py's
 * FunctionSpec, a NamedTuple -- and read here by index after one size check
 * (as cheap as positional arguments, and named on both sides).
 *
 * X(INDEX, "field"), in FunctionSpec's order.  A new field is one line here
 * and one there; _core.FUNCTION_SPEC_FIELDS publishes this list and
 * function_spec.py refuses to import when the two disagree. */
#ifndef FASTFFI_FUNCTION_SPEC_H
#define FASTFFI_FUNCTION_SPEC_H

#include "core.h"

#define FASTFFI_FUNCTION_SPEC(X)       \
    X(ADDRESS, "address")              \
    X(NAME, "name")                    \
    X(RETKIND, "retkind")              \
    X(ARGKINDS, "argkinds")            \
    X(RETSTRUCT, "retstruct")          \
    X(RETSIZE, "retsize")              \
    X(ARGSTRUCTS, "argstructs")        \
    X(RESTYPE, "restype")              \
    X(ARGTYPES, "argtypes")            \
    X(LIB, "lib")                      \
    X(FLAGS, "flags")                  \
    X(TIER, "tier")                    \
    X(EXPLANATION, "explanation")      \
    X(FFI_STRUCTS, "ffi_structs")      \
    X(PLAN, "plan")                    \
    X(CODE, "code")                    \
    X(ENTRY, "entry")                  \
    X(ARGCHECKS, "argchecks")          \
    X(ARGPOINTEES, "argpointees")      \
    X(STACK_CHECK, "stack_check")      \
    X(NFIXED, "nfixed")                \
    X(VARIADIC, "variadic")            \
    X(RESULT_MAKER, "result_maker")

enum {
#define X(e, name) SPEC_##e,
    FASTFFI_FUNCTION_SPEC(X)
#undef X
    SPEC__COUNT
};

/* An int field of the spec as a Py_ssize_t; -1 with TypeError/OverflowError
 * set when it is not one. */
int spec_ssize(PyObject *const *spec, int field, Py_ssize_t *out);

/* FUNCTION_SPEC_FIELDS: the field names above, in order. */
int function_spec_add_constants(PyObject *module);

#endif
