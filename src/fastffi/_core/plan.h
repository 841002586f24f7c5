/* The plan tier's entry points (call_plan.c). */
#ifndef FASTFFI_PLAN_H
#define FASTFFI_PLAN_H

#include "core.h"

int plan_prepare(FunctionObject *f, PyObject *plan);
void plan_free(FunctionObject *f);
PyObject *call_plan(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames);

#endif
