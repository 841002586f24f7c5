/* The callback spec: everything the Python side decided for one callback,
 * handed to make_callback as one tuple -- fastffi/tiers/callback.py's
 * CallbackSpec, a NamedTuple -- read here by index, as function_spec.h is.
 *
 * X(INDEX, "field"), in CallbackSpec's order; _core.CALLBACK_SPEC_FIELDS
 * publishes the list and tiers/callback.py refuses to import when the two
 * disagree. */
#ifndef FASTFFI_CALLBACK_SPEC_H
#define FASTFFI_CALLBACK_SPEC_H

#define FASTFFI_CALLBACK_SPEC(X)       \
    X(NAME, "name")                    \
    X(FUNC, "func")                    \
    X(ONERROR, "onerror")              \
    X(ERROR, "error")                  \
    X(RETKIND, "retkind")              \
    X(ARGKINDS, "argkinds")            \
    X(RETSTRUCT, "retstruct")          \
    X(RETSIZE, "retsize")              \
    X(RETFUNCTION, "retfunction")      \
    X(ARGSTRUCTS, "argstructs")        \
    X(RESTYPE, "restype")              \
    X(ARGTYPES, "argtypes")            \
    X(SIGNATURE, "signature")          \
    X(KEY, "key")                      \
    X(MECHANISM, "mechanism")          \
    X(EXPLANATION, "explanation")      \
    X(FFI_STRUCTS, "ffi_structs")      \
    X(PLAN, "plan")                    \
    X(CODE, "code")                    \
    X(ENTRY, "entry")                  \
    X(INSPECT, "inspect")

enum {
#define X(e, name) CBSPEC_##e,
    FASTFFI_CALLBACK_SPEC(X)
#undef X
    CBSPEC__COUNT
};

#endif
