/* The `plan` callback mechanism: a static pool of trampolines.
 *
 * The slots are code assembled into _core (pool_<abi>.S): nothing is
 * generated or mapped executable at run time.  Slot i puts i in a scratch
 * register and jumps to the ABI's relay, which spills the argument
 * registers into a frame image with tiers/plan.h's layout and calls
 * callback_dispatch_slot below.  That reads the callback's plan -- the very
 * records the plan tier would use to *call* a function of this signature
 * (fastffi/tiers/callback_pool.py hands tiers.plan's encoding over) -- in
 * reverse: where the caller's moves put an argument, the callee finds it.
 *
 * The slot table (index -> CallbackTarget) is written with the GIL held and
 * read from any thread without it, hence the atomics.  A slot is given back
 * (release) only when callback.c's quarantine lets go of its target, so a
 * stale address keeps reaching its own retired target -- which reports
 * CallbackClosedError -- for CALLBACK_QUARANTINE later retirements.  Past
 * that window reuse is documented (docs/callbacks.md): a C thread still
 * calling a slot while its quarantine ends races with the release below.
 * The free list itself is only touched with the GIL held (prepare, and
 * release from callback.c's quarantine). */
#include "callbacks/callback.h"
#include "callbacks/callback_spec.h"
#include "tiers/plan.h"

#include <string.h>

#define POOL_SLOTS 16384          /* pool_<abi>.S's .rept count */
#define POOL_SLOT_SIZE 16
/* Bytes of the per-call scratch in which structs passed in registers are
 * put back together.  A struct in registers is at most 16 bytes (psABI
 * 3.2.3: larger ones are MEMORY) or an HFA of at most 4 x 8 bytes (AAPCS64
 * 6.8.2 B.3), and there are 16 argument registers: 512 bounds every plan. */
#define POOL_MAX_TEMP 512
/* A struct result in registers: at most 16 bytes (psABI), 4 x 8 (HFA). */
#define POOL_MAX_RETREGS 64

#if PLAN_ABI != PLAN_ABI_NONE

extern const unsigned char fastffi_pool_slots[], fastffi_pool_slots_end[];

/* What the dispatcher does for one argument move. */
enum {
    POOL_AT = 1,      /* argp[arg] = the slot itself (scalar, or a struct whole on the stack) */
    POOL_LOAD = 2,    /* argp[arg] = the pointer in the slot (a struct the caller passed by reference) */
    POOL_PIECE = 3,   /* copy `size` bytes from the slot to temp+to; argp[arg] = temp+base */
};

typedef struct {
    uint8_t op;
    uint8_t reserved;
    uint16_t arg;
    uint16_t size;
    uint16_t base;    /* POOL_PIECE: the struct's offset in the scratch */
    uint32_t from;    /* < PLAN_STACK_OFFSET: the frame image; else the caller's stack + (from - STACK) */
    uint32_t to;      /* POOL_PIECE: temp offset of the piece */
} PoolMove;

typedef struct {
    uint16_t from, to, size;   /* result bytes `from` -> return image `to` */
} PoolRet;

enum { POOL_RET_SCALAR = 0, POOL_RET_REGS = 1, POOL_RET_MEMORY = 2 };

/* Arguments a direct plan takes: all in registers (psABI 3.2.3: 6 integer +
 * 8 SSE; AAPCS64 6.8.2: 8 + 8). */
#define POOL_DIRECT_MAX 16

typedef struct {
    uint32_t slot;
    /* Every argument a scalar in one register and the result a scalar: the
     * dispatcher boxes each argument straight from its register's slot in
     * the frame image (callback_invoke_direct), reading no move. */
    uint8_t direct;
    uint8_t direct_off[POOL_DIRECT_MAX];   /* argument i's offset in the frame image */
    uint32_t temp_size;
    uint16_t nmoves, nret;
    uint8_t ret_mode;
    uint16_t ret_src;
    uint32_t indirect_dst;
    PoolRet rets[4];
    PoolMove moves[];
} PoolMech;

/* Slot index -> its target; NULL for a slot never handed out or given back. */
static CallbackTarget *slot_targets[POOL_SLOTS];
/* Never-used slots are handed out first (in order); then those released
 * from quarantine, first released first reused (a FIFO ring). */
static uint32_t next_fresh;
static uint32_t released[POOL_SLOTS];
static uint32_t released_head, released_count;

Py_ssize_t pool_available(void)
{
    return (Py_ssize_t)(POOL_SLOTS - next_fresh) + released_count;
}

static void *pool_slot(const unsigned char *frame, const unsigned char *stack_args, uint32_t at)
{
    return at < PLAN_STACK_OFFSET ? (void *)(frame + at) : (void *)(stack_args + (at - PLAN_STACK_OFFSET));
}

/* Every other plan: the moves are walked into argp (structs put back
 * together in a scratch), and the result goes where its mode says.  Out of
 * line, so that the direct path's frame stays small. */
static COMPAT_NO_INLINE void dispatch_moves(CallbackTarget *t, const PoolMech *m, unsigned char *frame,
                                           unsigned char *stack_args, unsigned char *ret_image)
{
    void *argp[FASTFFI_MAX_ARGS];
    _Alignas(16) unsigned char temp[POOL_MAX_TEMP];
    _Alignas(16) unsigned char rtemp[POOL_MAX_RETREGS];

    if (m->temp_size)
        memset(temp, 0, m->temp_size);   /* padding eightbytes travel in no register */
    for (unsigned i = 0; i < m->nmoves; i++) {
        const PoolMove *mv = &m->moves[i];
        void *at = pool_slot(frame, stack_args, mv->from);
        switch (mv->op) {
        case POOL_AT:
            argp[mv->arg] = at;
            break;
        case POOL_LOAD:
            argp[mv->arg] = *(void **)at;
            break;
        default:
            memcpy(temp + mv->to, at, mv->size);
            argp[mv->arg] = temp + mv->base;
            break;
        }
    }
    switch (m->ret_mode) {
    case POOL_RET_SCALAR:
        /* Integers come back widened to 64 bits, f32 in the low 4 bytes:
         * what rax / x0 / xmm0 / v0 are read as (psABI 3.2.3, AAPCS64 6.9). */
        callback_invoke(t, (void *const *)argp, ret_image + m->ret_src);
        break;
    case POOL_RET_REGS:
        callback_invoke(t, (void *const *)argp, rtemp);
        for (unsigned i = 0; i < m->nret; i++)
            memcpy(ret_image + m->rets[i].to, rtemp + m->rets[i].from, m->rets[i].size);
        break;
    default: {
        /* psABI 3.2.3 "Returning of values": the callee writes the result
         * where the hidden first argument points and returns that address in
         * %rax.  AAPCS64 6.9: x8's memory, nothing to return (x0 is harmless). */
        void *dest = *(void **)(frame + m->indirect_dst);
        callback_invoke(t, (void *const *)argp, dest);
        memcpy(ret_image + PLAN_RET_GP_OFFSET, &dest, sizeof dest);
        break;
    }
    }
}

_Static_assert(PLAN_STACK_OFFSET <= 256, "direct_off holds frame-image offsets in a byte");

/* Called by the relay (pool_<abi>.S) from any thread, GIL or not. */
void callback_dispatch_slot(uint32_t index, unsigned char *frame, unsigned char *stack_args,
                            unsigned char *ret_image)
{
    CallbackTarget *t = index < POOL_SLOTS ? __atomic_load_n(&slot_targets[index], __ATOMIC_ACQUIRE) : NULL;
    if (t == NULL) {
        /* A slot never handed out (or given back) called anyway: C gets
         * zeros rather than someone else's callback or a crash. */
        memset(ret_image, 0, PLAN_RET_SIZE);
        return;
    }
    const PoolMech *m = t->mech;
    if (m->direct)
        callback_invoke_direct(t, frame, m->direct_off, ret_image + m->ret_src);
    else
        dispatch_moves(t, m, frame, stack_args, ret_image);
}

static void pool_release(CallbackTarget *t)
{
    PoolMech *m = t->mech;
    if (m == NULL)
        return;
    __atomic_store_n(&slot_targets[m->slot], NULL, __ATOMIC_RELEASE);
    released[(released_head + released_count) % POOL_SLOTS] = m->slot;
    released_count++;
    t->mech = NULL;
    PyMem_RawFree(m);
}

static int take_slot(uint32_t *slot)
{
    if (next_fresh < POOL_SLOTS) {
        *slot = next_fresh++;
        return 0;
    }
    if (released_count == 0)
        return -1;
    *slot = released[released_head];
    released_head = (released_head + 1) % POOL_SLOTS;
    released_count--;
    return 0;
}

static int invalid(CallbackObject *cb, const char *why)
{
    PyErr_Format(PyExc_ValueError, "callback %R: invalid plan for the static pool: %s", cb->name, why);
    return -1;
}

/* Does [at, at+size) lie in the argument registers of the frame image or in
 * the caller's stack area the plan describes? */
static int in_frame(const PlanHeader *h, uint32_t at, uint32_t size)
{
    if (at < PLAN_STACK_OFFSET)
        return (uint64_t)at + size <= PLAN_INDIRECT_OFFSET + 8;
    return (uint64_t)(at - PLAN_STACK_OFFSET) + size <= h->stack_size;
}

int pool_prepare(CallbackObject *cb, PyObject *const *spec)
{
    if ((const unsigned char *)fastffi_pool_slots_end - fastffi_pool_slots != POOL_SLOTS * POOL_SLOT_SIZE) {
        PyErr_Format(PyExc_SystemError, "callback %R: the static pool was assembled with another slot count",
                     cb->name);
        return -1;
    }
    PyObject *plan = spec[CBSPEC_PLAN];
    if (!PyBytes_Check(plan)) {
        PyErr_Format(PyExc_TypeError, "callback %R: the plan mechanism needs the encoded plan (bytes), not %.100s",
                     cb->name, Py_TYPE(plan)->tp_name);
        return -1;
    }
    const char *bytes = PyBytes_AS_STRING(plan);
    Py_ssize_t len = PyBytes_GET_SIZE(plan);
    PlanHeader h;
    if (len < (Py_ssize_t)sizeof h)
        return invalid(cb, "shorter than its header");
    memcpy(&h, bytes, sizeof h);
    if (h.abi != PLAN_ABI)
        return invalid(cb, "classified for another ABI");
    if (len != (Py_ssize_t)(sizeof h + sizeof(PlanMove) * ((size_t)h.nmoves + h.nret)))
        return invalid(cb, "its length disagrees with its move counts");
    if ((Py_ssize_t)h.nmoves < cb->nargs)
        return invalid(cb, "fewer moves than arguments");
    if (h.nret > 4)
        return invalid(cb, "more than four return registers");

    PoolMech *m = PyMem_RawCalloc(1, sizeof *m + sizeof(PoolMove) * h.nmoves);
    if (m == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    m->nmoves = h.nmoves;
    m->nret = h.nret;

    /* Per argument: seen by a move, and (structs in pieces) its scratch base. */
    int32_t base[FASTFFI_MAX_ARGS];
    uint8_t seen[FASTFFI_MAX_ARGS] = {0};
    for (Py_ssize_t i = 0; i < cb->nargs; i++)
        base[i] = -1;
    const char *why = NULL;
    uint32_t temp = 0;
    for (unsigned i = 0; i < h.nmoves && !why; i++) {
        PlanMove pm;
        memcpy(&pm, bytes + sizeof h + sizeof pm * i, sizeof pm);
        PoolMove *mv = &m->moves[i];
        if (pm.arg >= cb->nargs) {
            why = "a move names an argument the signature has not got";
            break;
        }
        mv->arg = pm.arg;
        mv->from = pm.dst;
        mv->size = pm.size;
        seen[pm.arg] = 1;
        switch (pm.op) {
        case PLAN_OP_SCALAR:
            mv->op = POOL_AT;
            if (!in_frame(&h, pm.dst, kind_is_int128(pm.kind) ? 16 : 8))
                why = "a scalar outside the frame";
            break;
        case PLAN_OP_REF:
            mv->op = POOL_LOAD;
            if (!in_frame(&h, pm.dst, 8))
                why = "a reference outside the frame";
            break;
        case PLAN_OP_COPY: {
            Py_ssize_t size = cb->structsizes != NULL ? cb->structsizes[pm.arg] : 0;
            if (size <= 0 || (uint64_t)pm.src + pm.size > (uint64_t)size || !in_frame(&h, pm.dst, pm.size)) {
                why = "a struct piece outside its struct or the frame";
                break;
            }
            if (pm.dst >= PLAN_STACK_OFFSET && pm.src == 0 && pm.size == size) {
                /* Whole on the caller's stack: the callee reads it in place. */
                mv->op = POOL_AT;
                break;
            }
            if (base[pm.arg] < 0) {
                temp = (temp + 15) & ~15u;
                base[pm.arg] = (int32_t)temp;
                temp += (uint32_t)size;
                if (temp > POOL_MAX_TEMP) {
                    why = "structs in registers over the dispatcher's scratch";
                    break;
                }
            }
            mv->op = POOL_PIECE;
            mv->base = (uint16_t)base[pm.arg];
            mv->to = (uint32_t)base[pm.arg] + pm.src;
            break;
        }
        default:
            why = "an argument move of an unknown kind";
        }
    }
    for (Py_ssize_t i = 0; i < cb->nargs && !why; i++)
        if (!seen[i])
            why = "an argument no move reads";
    m->temp_size = temp;

    if (!why) {
        if (h.ret_indirect) {
            m->ret_mode = POOL_RET_MEMORY;
            m->indirect_dst = h.indirect_dst;
            if (h.nret || !in_frame(&h, h.indirect_dst, 8) || h.indirect_dst >= PLAN_STACK_OFFSET)
                why = "a result in memory without its address register";
        } else if (h.nret) {
            m->ret_mode = POOL_RET_REGS;
            if (cb->target->retsize > POOL_MAX_RETREGS)
                why = "a struct result in registers over 64 bytes";
            for (unsigned i = 0; i < h.nret && !why; i++) {
                PlanMove pm;
                memcpy(&pm, bytes + sizeof h + sizeof pm * (h.nmoves + i), sizeof pm);
                if (pm.op != PLAN_OP_RET_COPY || pm.size > 16 || (uint64_t)pm.dst + pm.size > POOL_MAX_RETREGS
                        || (uint64_t)pm.src + pm.size > PLAN_RET_SIZE)
                    why = "a return move outside the result or the return image";
                m->rets[i] = (PoolRet){(uint16_t)pm.dst, (uint16_t)pm.src, pm.size};
            }
        } else {
            m->ret_mode = POOL_RET_SCALAR;
            m->ret_src = h.ret_src;
            if ((uint32_t)h.ret_src + CALLBACK_RESULT_BYTES(cb->target->retkind) > PLAN_RET_SIZE)
                why = "a scalar result outside the return image";
        }
    }
    if (why) {
        PyMem_RawFree(m);
        return invalid(cb, why);
    }
    /* The direct path: one move per argument, in order, each a scalar in a
     * register of the frame image, and a scalar result. */
    m->direct = m->ret_mode == POOL_RET_SCALAR && cb->nargs <= POOL_DIRECT_MAX && m->nmoves == cb->nargs
                && m->temp_size == 0;
    for (unsigned i = 0; i < m->nmoves && m->direct; i++) {
        const PoolMove *mv = &m->moves[i];
        if (mv->op != POOL_AT || mv->arg != i || mv->from >= PLAN_STACK_OFFSET || cb->argkinds[i] == KIND_STRUCT)
            m->direct = 0;
        else
            m->direct_off[i] = (uint8_t)mv->from;
    }
    if (take_slot(&m->slot) < 0) {
        PyMem_RawFree(m);
        PyErr_Format(FFIError, "callback %R: the static pool's %d slots are all in use (live or quarantined)",
                     cb->name, POOL_SLOTS);
        return -1;
    }
    cb->target->mech = m;
    cb->target->release = pool_release;
    cb->address = (void *)(fastffi_pool_slots + (size_t)m->slot * POOL_SLOT_SIZE);
    __atomic_store_n(&slot_targets[m->slot], cb->target, __ATOMIC_RELEASE);
    return 0;
}

#else  /* no pool on this platform */

Py_ssize_t pool_available(void)
{
    return 0;
}

int pool_prepare(CallbackObject *cb, PyObject *const *spec)
{
    (void)spec;
    PyErr_Format(FFIError, "callback %R: no static trampoline pool on this platform "
                 "(x86-64 SysV and AArch64 Linux only)", cb->name);
    return -1;
}

#endif
