/* Mechanisms not built yet: refused at creation with the reason (Python
 * refuses them first: tiers/callback.py). */
#include "callbacks/callback.h"

int thunk_prepare(CallbackObject *cb, PyObject *const *spec)
{
    (void)spec;
    PyErr_Format(FFIError, "%U: the jit callback mechanism is not available in this build", cb->name);
    return -1;
}
