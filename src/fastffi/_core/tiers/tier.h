/* The tiers the core runs, as data: the spec's tier code indexes one table
 * of {name, prepare, entry}, so make_function has no per-tier code and a new
 * tier is one line of FASTFFI_TIERS (plus its own file).
 *
 * X(CODE, "name", prepare, entry), fastest first as fastffi's TIERS:
 *   - entry is installed before prepare runs; prepare may install a more
 *     specific one (the plan tier's small-frame entry) and must when entry
 *     is NULL (the JIT's generated code);
 *   - published as _core.TIER_<CODE>. */
#ifndef FASTFFI_TIERS_TIER_H
#define FASTFFI_TIERS_TIER_H

#include "core.h"

#define FASTFFI_TIERS(X)                               \
    X(JIT, "jit", jit_prepare, NULL)                   \
    X(PLAN, "plan", plan_prepare, call_plan)           \
    X(LIBFFI, "libffi", libffi_prepare, call_libffi)

typedef enum {
#define X(code, name, prepare, entry) TIER_##code,
    FASTFFI_TIERS(X)
#undef X
    TIER__COUNT
} TierCode;

typedef struct {
    const char *name;     /* fn.tier */
    /* Fill the function's tier data from the spec (FunctionSpec's items,
     * runtime/function_spec.h).  -1 with an exception set on refusal. */
    int (*prepare)(FunctionObject *f, PyObject *const *spec);
    vectorcallfunc entry;
} Tier;

extern const Tier fastffi_tiers[TIER__COUNT];

/* fn.tier: the tier's name as an interned str. */
PyObject *tier_name(int code);
/* TIER_JIT, TIER_PLAN, TIER_LIBFFI. */
int tiers_add_constants(PyObject *module);

/* Each tier's preparation and entry points (tiers/<tier>.c). */
int jit_prepare(FunctionObject *f, PyObject *const *spec);
int plan_prepare(FunctionObject *f, PyObject *const *spec);
int libffi_prepare(FunctionObject *f, PyObject *const *spec);
PyObject *call_plan(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames);
PyObject *call_libffi(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames);

#endif
