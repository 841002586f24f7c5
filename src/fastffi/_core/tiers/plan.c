/* The plan tier's call path.
 *
 * Creation (plan_prepare): the plan bytes built by fastffi/tiers/plan.py are
 * validated once -- every offset and size inside the frame, every argument
 * index in range -- so the call path can trust them.
 * A call:
 *   1. arity, keywords (call_check);
 *   2. the moves run in order: scalars are converted straight into their
 *      register or stack slot of the frame image, struct pieces are copied
 *      (so the frame holds every argument before the GIL can be dropped);
 *   3. a struct return gets its instance first (its address goes in the
 *      indirect-result slot when the ABI returns it in memory);
 *   4. the closed library check (call_check_open: nothing after it runs
 *      Python code), then fastffi_plan_call loads the registers, copies the stack area, calls the
 *      target and stores the return registers -- GIL/errno as tiers/call.h;
 *   5. buffers released -- raising instead the exception a callback passed to
 *      the call held (callbacks/scope.c); the result is boxed or copied out
 *      of the return image.
 * No classification, no heap allocation besides the result object. */
#include "tiers/plan.h"

#include "runtime/convert.h"
#include "runtime/function_spec.h"
#include "tiers/call.h"
#include "tiers/stack.h"
#include "tiers/tier.h"

/* Plans whose frame and buffer needs fit these run with fixed-size arrays
 * (call_plan_small); larger ones size them per call. */
#define SMALL_FRAME_BYTES 512
#define SMALL_BUFFERS 8
/* Frame images above this go on the heap: the machine stack then holds only
 * the stack-argument area the routine copies there (checked against the
 * thread's free stack, tiers/stack.h), not a second copy of it. */
#define HEAP_FRAME_BYTES 4096
/* The largest frame image a plan may have (fastffi/tiers/plan.py refuses
 * larger ones first, with a reason, so `auto` falls to libffi). */
#define PLAN_MAX_FRAME (1u << 20)

/* 16-byte units so the frame image is aligned for vector loads. */
typedef struct {
    _Alignas(16) uint64_t q[2];
} FrameUnit;

static int plan_invalid(FunctionObject *f, const char *why)
{
    PyErr_Format(PyExc_ValueError, "%U: invalid plan: %s", f->name, why);
    return -1;
}

/* Size of struct argument `arg` (its class's _size_), or -1. */
static Py_ssize_t struct_size(FunctionObject *f, int arg)
{
    PyObject *v = PyObject_GetAttrString(PyTuple_GET_ITEM(f->argstructs, arg), "_size_");
    if (v == NULL) {
        PyErr_Clear();
        return -1;
    }
    Py_ssize_t n = PyLong_AsSsize_t(v);
    Py_DECREF(v);
    if (n < 0)
        PyErr_Clear();
    return n;
}

static int validate(FunctionObject *f, const Plan *p, Py_ssize_t nbytes)
{
    const PlanHeader *h = &p->h;
    if ((size_t)nbytes != sizeof(PlanHeader) + (size_t)(h->nmoves + h->nret) * sizeof(PlanMove))
        return plan_invalid(f, "length does not match its move counts");
    if (h->abi != PLAN_ABI)
        return plan_invalid(f, "classified for another ABI");
    if (h->frame_size % 16 || h->stack_size % 16 || h->frame_size < PLAN_STACK_OFFSET + h->stack_size
        || h->frame_size > PLAN_MAX_FRAME)
        return plan_invalid(f, "bad frame or stack size");
    for (int i = 0; i < h->nmoves + h->nret; i++) {
        const PlanMove *m = &p->moves[i];
        int is_ret = i >= h->nmoves;
        if (is_ret != (m->op == PLAN_OP_RET_COPY || m->op == PLAN_OP_RET_WIDE))
            return plan_invalid(f, "return moves must follow argument moves");
        if (!is_ret && m->arg >= f->nargs)
            return plan_invalid(f, "argument index out of range");
        switch (m->op) {
        case PLAN_OP_SCALAR:
            /* i128/u128 store 16 bytes: two adjacent register
             * slots or a 16-aligned stack slot, `size` says so. */
            if (m->kind != f->argkinds[m->arg] || m->dst % 8 || m->size != (kind_is_int128(m->kind) ? 16 : 8)
                || m->dst + m->size > h->frame_size)
                return plan_invalid(f, "bad scalar move");
            if (kind_is_int128(m->kind) && m->dst >= PLAN_STACK_OFFSET && (m->dst - PLAN_STACK_OFFSET) % 16)
                return plan_invalid(f, "a 16-byte integer's stack slot must be 16-aligned");
            if (kind_is_int128(m->kind) && m->dst < PLAN_STACK_OFFSET && m->dst + 16 > PLAN_FP_OFFSET)
                return plan_invalid(f, "a 16-byte integer takes two general registers");
            break;
        case PLAN_OP_COPY:
            if (f->argkinds[m->arg] != KIND_STRUCT || m->dst + m->size > h->frame_size)
                return plan_invalid(f, "bad copy move");
            if ((Py_ssize_t)m->src + m->size > struct_size(f, m->arg))
                return plan_invalid(f, "copy reads past the end of the struct");
            break;
        case PLAN_OP_REF:
            if (f->argkinds[m->arg] != KIND_STRUCT || m->dst % 8 || m->dst + 8 > h->frame_size
                || m->src < PLAN_STACK_OFFSET + h->stack_size || m->src + m->size > h->frame_size)
                return plan_invalid(f, "bad by-reference move");
            if ((Py_ssize_t)m->size > struct_size(f, m->arg))
                return plan_invalid(f, "copy reads past the end of the struct");
            break;
        case PLAN_OP_WIDE:
            if (m->kind != f->argkinds[m->arg] || !kind_is_wide(m->kind) || m->dst % 8
                || (m->size != 4 && m->size != 8 && m->size != 16) || m->dst + m->size > h->frame_size
                || (m->src != 0 && (m->size > 8 || m->src % 8 || m->src + m->size > h->frame_size)))
                return plan_invalid(f, "bad wide move");
            break;
        case PLAN_OP_RET_WIDE:
            if (!kind_is_wide(f->retkind) || m->src + m->size > PLAN_RET_SIZE || m->dst + m->size > sizeof(Wide))
                return plan_invalid(f, "bad wide return move");
            break;
        case PLAN_OP_RET_COPY:
            if (f->retkind != KIND_STRUCT || m->src + m->size > PLAN_RET_SIZE || m->dst + m->size > f->retsize)
                return plan_invalid(f, "bad return move");
            break;
        default:
            return plan_invalid(f, "unknown move");
        }
    }
    if (h->ret_indirect && (f->retkind != KIND_STRUCT || h->indirect_dst % 8 || h->indirect_dst + 8 > PLAN_STACK_OFFSET))
        return plan_invalid(f, "bad indirect result slot");
    if (f->retkind != KIND_STRUCT && (h->ret_src % 8 || h->ret_src + (kind_is_int128(f->retkind) ? 16 : 8) > PLAN_RET_SIZE))
        return plan_invalid(f, "bad scalar return slot");
    return 0;
}

int plan_prepare(FunctionObject *f, PyObject *const *spec)
{
    PyObject *plan_bytes = spec[SPEC_PLAN];
    if (PLAN_ABI == PLAN_ABI_NONE) {
        PyErr_Format(FFIError, "%U: the plan tier has no call routine for this platform", f->name);
        return -1;
    }
    if (!PyBytes_Check(plan_bytes) || PyBytes_GET_SIZE(plan_bytes) < (Py_ssize_t)sizeof(PlanHeader))
        return plan_invalid(f, "expected bytes with a header");
    Py_ssize_t n = PyBytes_GET_SIZE(plan_bytes);
    Plan *p = PyMem_Malloc(offsetof(Plan, h) + (size_t)n);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(&p->h, PyBytes_AS_STRING(plan_bytes), (size_t)n);
    if (validate(f, p, n) < 0) {
        PyMem_Free(p);
        return -1;
    }
    p->nvec = 0;
    for (int i = 0; i < p->h.nmoves; i++) {
        const PlanMove *m = &p->moves[i];
        /* A c128's second eightbyte goes to the register at src (OP_WIDE). */
        uint32_t dst = m->op == PLAN_OP_WIDE && m->src != 0 ? m->src : m->dst;
        if (dst >= PLAN_FP_OFFSET && dst < PLAN_INDIRECT_OFFSET) {
            /* Vector registers are assigned in order: the highest one used
             * plus one is the count. */
            unsigned reg = (dst - PLAN_FP_OFFSET) / PLAN_FP_STRIDE + 1;
            if (reg > p->nvec)
                p->nvec = reg;
        }
    }
#if PLAN_ABI == PLAN_ABI_SYSV_X86_64
    /* A result in st0 (a long double, or a struct of one: class X87) is read
     * from the image the x87 routine stores. */
    int x87 = 0;
    for (int i = p->h.nmoves; i < p->h.nmoves + p->h.nret; i++)
        x87 |= p->moves[i].src >= PLAN_RET_X87_OFFSET;
    if (x87)
        p->routine = fastffi_plan_call_x87;
    else
#endif
    if (p->h.stack_size != 0)
        p->routine = fastffi_plan_call;
    else
        p->routine = p->nvec != 0 ? fastffi_plan_call_regs : fastffi_plan_call_gp;
    f->plan = p;
    if (p->h.frame_size <= SMALL_FRAME_BYTES && f->nbufargs <= SMALL_BUFFERS)
        function_set_entry(f, call_plan_small);
    return 0;
}

void plan_free(FunctionObject *f)
{
    PyMem_Free(f->plan);
    f->plan = NULL;
}

/* The call itself, shared by both entry points below; `frame` and `views`
 * are the caller's stack arrays.  Always inlined: each entry point is then
 * one straight function. */
static inline COMPAT_ALWAYS_INLINE PyObject *plan_run(FunctionObject *f, PyObject *const *args, char *frame, BufferEntry *views)
{
    const Plan *p = (const Plan *)f->plan;
    const PlanMove *m = p->moves, *end = p->moves + p->h.nmoves;
    BufferList bufs = {views, 0};

    for (; m < end; m++) {
        PyObject *o = args[m->arg];
        if (m->op == PLAN_OP_SCALAR) {
            if (convert_argument(f, m->arg, m->kind, o, (Slot *)(frame + m->dst), &bufs) < 0)
                goto fail;
            continue;
        }
        if (m->op == PLAN_OP_WIDE) {
            Wide w;
            if (convert_wide(m->kind, o, &w, (ErrCtx){f->name, m->arg + 1}) < 0)
                goto fail;
            memcpy(frame + m->dst, w.b, m->size);
            if (m->src != 0)
                memcpy(frame + m->src, w.b + m->size, m->size);
            continue;
        }
        PyObject *cls = PyTuple_GET_ITEM(f->argstructs, m->arg);
        if ((PyObject *)Py_TYPE(o) != cls) {
            raise_struct_mismatch(cls, o, (ErrCtx){f->name, m->arg + 1});
            goto fail;
        }
        const char *data = ((CDataObject *)o)->ptr;
        if (m->op == PLAN_OP_COPY) {
            memcpy(frame + m->dst, data + m->src, m->size);
        }
        else { /* PLAN_OP_REF */
            void *copy = frame + m->src;
            memcpy(copy, data, m->size);
            memcpy(frame + m->dst, &copy, sizeof copy);
        }
    }

    PyObject *result = NULL;
    if (f->retkind == KIND_STRUCT) {
        result = cdata_alloc(f->retstruct, f->retsize);
        if (result == NULL)
            goto fail;
        if (p->h.ret_indirect)
            memcpy(frame + p->h.indirect_dst, &((CDataObject *)result)->ptr, sizeof(void *));
    }

    if (call_check_open(f) < 0) {
        Py_XDECREF(result);
        goto fail;
    }
    FrameUnit ret[PLAN_RET_SIZE / sizeof(FrameUnit)];
    call_enter(f);
    PyThreadState *ts = call_prologue(f);
    p->routine(f->target, frame, p->h.stack_size, ret, p->nvec);
    call_epilogue(f, ts);
    call_leave(f);
    if (bufs.count && kind_is_string(f->retkind))
        return box_string_then_release(f, (const Slot *)((char *)ret + p->h.ret_src), &bufs);
    /* A callback this call was passed raised while C ran it: that exception
     * is the call's (callbacks/scope.c).  Only calls that acquired something
     * look. */
    if (bufs.count && buffers_release_after_call(&bufs)) {
        Py_XDECREF(result);
        return NULL;
    }

    if (result == NULL && p->h.nret == 0)
        return box_return(f, (const Slot *)((char *)ret + p->h.ret_src));
    if (result == NULL) {
        /* A wide result (the only scalar with return moves): its pieces from
         * xmm0/xmm1 or st0 into one value. */
        Wide w;
        memset(&w, 0, sizeof(w));
        for (const PlanMove *r = end; r < end + p->h.nret; r++)
            memcpy(w.b + r->dst, (char *)ret + r->src, r->size);
        return box_wide(f->retkind, &w);
    }
    for (const PlanMove *r = end; r < end + p->h.nret; r++)
        memcpy(((CDataObject *)result)->ptr + r->dst, (char *)ret + r->src, r->size);
    return result;

fail:
    buffers_release(&bufs);
    return NULL;
}

/* Most plans: fixed-size stack arrays, nothing sized at run time. */
PyObject *call_plan_small(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    FunctionObject *f = (FunctionObject *)self;
    if (call_check(f, nargsf, kwnames) < 0)
        return NULL;
    FrameUnit frame[SMALL_FRAME_BYTES / sizeof(FrameUnit)];
    BufferEntry views[SMALL_BUFFERS];
    return plan_run(f, args, (char *)frame, views);
}

/* Plans with big frames (many stack arguments, large by-value structs). */
PyObject *call_plan(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    FunctionObject *f = (FunctionObject *)self;
    if (call_check(f, nargsf, kwnames) < 0 || stack_check(f) < 0)
        return NULL;
    const Plan *p = (const Plan *)f->plan;
    BufferEntry views[f->nbufargs + 1];
    if (p->h.frame_size <= HEAP_FRAME_BYTES) {
        FrameUnit frame[p->h.frame_size / sizeof(FrameUnit)];
        return plan_run(f, args, (char *)frame, views);
    }
    /* PyMem_Malloc above 512 bytes is malloc: 16-byte aligned on both ABIs,
     * as the routine's vector loads of the frame need. */
    char *frame = PyMem_Malloc(p->h.frame_size);
    if (frame == NULL)
        return PyErr_NoMemory();
    PyObject *result = plan_run(f, args, frame, views);
    PyMem_Free(frame);
    return result;
}

#if PLAN_ABI == PLAN_ABI_NONE
/* Never reached: plan_prepare refuses every plan on such platforms. */
void fastffi_plan_call(void (*target)(void), void *frame, size_t stack_size, void *ret_image, unsigned nvec)
{
    (void)target; (void)frame; (void)stack_size; (void)ret_image; (void)nvec;
    Py_FatalError("fastffi: plan call on a platform without a plan routine");
}
void fastffi_plan_call_regs(void (*t)(void), void *fr, size_t s, void *r, unsigned n) { fastffi_plan_call(t, fr, s, r, n); }
void fastffi_plan_call_gp(void (*t)(void), void *fr, size_t s, void *r, unsigned n) { fastffi_plan_call(t, fr, s, r, n); }
#endif

int plan_add_constants(PyObject *m)
{
    PyObject *layout = Py_BuildValue(
        "{sisisisisisisisisisisisisisisisisisisisi}",
        "gp", PLAN_GP_OFFSET, "fp", PLAN_FP_OFFSET, "fp_stride", PLAN_FP_STRIDE,
        "indirect", PLAN_INDIRECT_OFFSET, "stack", PLAN_STACK_OFFSET,
        "ret_gp", PLAN_RET_GP_OFFSET, "ret_fp", PLAN_RET_FP_OFFSET, "ret_size", PLAN_RET_SIZE,
        "op_scalar", PLAN_OP_SCALAR, "op_copy", PLAN_OP_COPY, "op_ref", PLAN_OP_REF, "op_ret_copy", PLAN_OP_RET_COPY,
        "op_wide", PLAN_OP_WIDE, "op_ret_wide", PLAN_OP_RET_WIDE, "ret_x87", PLAN_RET_X87_OFFSET,
        "move_size", (int)sizeof(PlanMove), "header_size", (int)sizeof(PlanHeader),
        "abi_sysv_x86_64", PLAN_ABI_SYSV_X86_64, "abi_aapcs64", PLAN_ABI_AAPCS64,
        "max_frame", (int)PLAN_MAX_FRAME);
    if (layout == NULL || PyModule_AddObject(m, "PLAN_LAYOUT", layout) < 0) {
        Py_XDECREF(layout);
        return -1;
    }
#if PLAN_ABI == PLAN_ABI_NONE
    PyObject *abi = Py_NewRef(Py_None);
#else
    PyObject *abi = PyUnicode_FromString(PLAN_ABI_NAME);
#endif
    if (abi == NULL || PyModule_AddObject(m, "PLAN_ABI", abi) < 0) {
        Py_XDECREF(abi);
        return -1;
    }
    return 0;
}
