"""The batch loop of ``fn.map``, stated once over the ISA operations of
``jit/isa.py``: ``void loop(target, char **columns, const ssize_t *strides,
char *out, ssize_t out_stride, ssize_t rows)``.

Each row loads the argument registers straight from the columns (whose item
formats equal the C types: batch.py checked), extended as the entry's slots
are, calls the target, and stores the return register into the output row at
its declared width.  Addresses are computed from the row index (base + index
* stride) rather than by bumping pointers kept in memory: the only value
carried from one row to the next is the index, in a register, so rows overlap
freely."""
from __future__ import annotations

from .assembly import Shape
from .isa import ZERO


def emit_loop(a, shape: Shape) -> bytes:
    """The loop's code for ``shape``, assembled by ``a`` (an ISA's Operations)."""
    n = len(shape.args)
    a.loop_prologue(n)
    a.put(a.INDEX, ZERO)
    a.branch_if_zero(a.ROWS, "done")
    a.label("row")
    for i, arg in enumerate(shape.args):
        a.load_column(arg, a.item_address(i))
    if shape.variadic:
        a.set_vector_count(shape.vector_count)
    a.call_pointer(a.TARGET)
    if shape.ret.name != "void":
        a.store_result(shape.ret.name, a.output_address())
    a.increment(a.INDEX)
    a.branch_if_not_equal(a.INDEX, a.ROWS, "row")
    a.label("done")
    a.loop_epilogue(n)
    return a.finish()
