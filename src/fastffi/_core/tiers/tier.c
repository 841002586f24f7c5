/* The tier table make_function selects from (tiers/tier.h). */
#include "tiers/tier.h"

const Tier fastffi_tiers[TIER__COUNT] = {
#define X(code, name, prepare, entry) [TIER_##code] = {name, prepare, entry},
    FASTFFI_TIERS(X)
#undef X
};

static PyObject *names[TIER__COUNT];

PyObject *tier_name(int code)
{
    return names[code];
}

int tiers_add_constants(PyObject *m)
{
#define X(code, name, prepare, entry)                                                          \
    if ((names[TIER_##code] == NULL && (names[TIER_##code] = PyUnicode_InternFromString(name)) == NULL) \
        || PyModule_AddIntConstant(m, "TIER_" #code, TIER_##code) < 0)                        \
        return -1;
    FASTFFI_TIERS(X)
#undef X
    return 0;
}
