/* Mechanisms not built yet: refused at creation with the reason (Python
 * refuses them first: tiers/callback.py). */
#include "callbacks/callback.h"

int pool_prepare(CallbackObject *cb, PyObject *const *spec)
{
    (void)spec;
    PyErr_Format(FFIError, "%U: the static trampoline pool is not available in this build", cb->name);
    return -1;
}

Py_ssize_t pool_available(void)
{
    return 0;
}
