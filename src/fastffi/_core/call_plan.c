/* Plan tier: not built yet on this branch. */
#include "plan.h"

int plan_prepare(FunctionObject *f, PyObject *plan)
{
    (void)plan;
    PyErr_Format(FFIError, "%U: the plan tier is not available in this build", f->name);
    return -1;
}

void plan_free(FunctionObject *f)
{
    (void)f;
}

PyObject *call_plan(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    (void)self; (void)args; (void)nargsf; (void)kwnames;
    PyErr_SetString(PyExc_SystemError, "plan tier not available");
    return NULL;
}
