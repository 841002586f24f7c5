/* The plan tier: a signature's ABI classification, done once in Python
 * (fastffi/abi/), arrives here as a flat array of fixed-size moves.  A call
 * runs the moves into a call-frame image -- register file then stack area --
 * and one static routine per ABI (plan_<abi>.S) loads the registers, copies
 * the stack area, calls, and stores the return registers.
 *
 * The byte layout of the frame image and of the records below is shared with
 * fastffi/tiers/plan.py, which reads it from _core.PLAN_LAYOUT: keep them in
 * step (static asserts below pin the record sizes). */
#ifndef FASTFFI_PLAN_H
#define FASTFFI_PLAN_H

#include "core.h"

/* Frame image: argument registers, then the stack area, then scratch copies
 * (AAPCS64 passes composites over 16 bytes by reference to a caller copy). */
#define PLAN_GP_OFFSET 0          /* 8 x 8 bytes: rdi..r9 | x0..x7 */
#define PLAN_FP_OFFSET 64         /* 8 x 16 bytes: xmm0..xmm7 | v0..v7 */
#define PLAN_FP_STRIDE 16
#define PLAN_INDIRECT_OFFSET 192  /* x8, AAPCS64's indirect result register */
#define PLAN_STACK_OFFSET 208     /* copied to the machine stack at the call */

/* Return image written by the routine: two GP registers, four vector ones. */
#define PLAN_RET_GP_OFFSET 0      /* rax, rdx | x0, x1 */
#define PLAN_RET_FP_OFFSET 16     /* xmm0, xmm1 | v0..v3, 16 bytes each */
#define PLAN_RET_SIZE 80
/* st0 (a long double result, psABI 3.2.3 class X87), stored by
 * fastffi_plan_call_x87 with fstpt: 10 bytes after xmm1. */
#define PLAN_RET_X87_OFFSET 48

enum {
    PLAN_OP_SCALAR = 1,   /* convert args[arg] as `kind`; store 8 bytes at frame+dst */
    PLAN_OP_COPY = 2,     /* struct arg: copy `size` bytes from its offset `src` to frame+dst */
    PLAN_OP_REF = 3,      /* struct arg: copy it whole to frame+src, store that address at frame+dst */
    PLAN_OP_RET_COPY = 4, /* struct return: copy `size` bytes from ret image+src to result+dst */
    /* the wide kinds (scalars, not struct fields): */
    PLAN_OP_WIDE = 5,     /* convert args[arg] as `kind` into a Wide; its first `size` bytes to frame+dst and,
                             when src != 0 (a complex value in two registers), its next `size` bytes --
                             the imaginary part -- to frame+src */
    PLAN_OP_RET_WIDE = 6, /* wide return: copy `size` bytes from ret image+src to the value's byte dst */
};

typedef struct {
    uint8_t op;
    uint8_t kind;
    uint16_t arg;
    uint16_t size;
    uint16_t reserved;
    uint32_t src;
    uint32_t dst;
} PlanMove;

typedef struct {
    uint32_t frame_size;      /* bytes, multiple of 16 */
    uint32_t stack_size;      /* bytes copied to the machine stack, multiple of 16 */
    uint16_t nmoves;          /* argument moves, then `nret` return moves */
    uint16_t nret;
    uint16_t ret_src;         /* scalar return: its offset in the return image */
    uint8_t ret_indirect;     /* struct returned in memory: result address -> frame+indirect_dst */
    uint8_t abi;              /* PLAN_ABI_* this plan was classified for */
    uint32_t indirect_dst;
    uint32_t reserved;
} PlanHeader;

_Static_assert(sizeof(PlanMove) == 16, "PlanMove is shared with Python: 16 bytes");
_Static_assert(sizeof(PlanHeader) == 24, "PlanHeader is shared with Python: 24 bytes");

/* Preprocessor constants (not an enum): they select code with #if. */
#define PLAN_ABI_NONE 0
#define PLAN_ABI_SYSV_X86_64 1
#define PLAN_ABI_AAPCS64 2

#if defined(__x86_64__) && defined(__linux__)
#define PLAN_ABI PLAN_ABI_SYSV_X86_64
#define PLAN_ABI_NAME "sysv-x86_64"
#elif defined(__aarch64__) && defined(__linux__)
#define PLAN_ABI PLAN_ABI_AAPCS64
#define PLAN_ABI_NAME "aapcs64"
#else
#define PLAN_ABI PLAN_ABI_NONE
#define PLAN_ABI_NAME NULL
#endif

/* The static call routines of this platform's ABI (plan_<abi>.S): the
 * general one, one for plans with no stack arguments, one for plans that use
 * only integer argument registers.  `nvec` is the number of vector argument
 * registers the plan loads: x86-64 SysV passes it in %al to every call, and
 * a variadic callee reads it (psABI 3.5.7); AAPCS64 ignores it. */
typedef void PlanRoutine(void (*target)(void), void *frame, size_t stack_size, void *ret_image, unsigned nvec);
PlanRoutine fastffi_plan_call, fastffi_plan_call_regs, fastffi_plan_call_gp;
#if PLAN_ABI == PLAN_ABI_SYSV_X86_64
/* The general routine that also stores st0 (fstpt) at PLAN_RET_X87_OFFSET:
 * for long double results only -- popping an empty x87 stack would mark it
 * invalid for the rest of the thread. */
PlanRoutine fastffi_plan_call_x87;
#endif

/* A prepared plan (FunctionObject.plan): validated once, then only read. */
typedef struct {
    PlanRoutine *routine;
    unsigned nvec;      /* vector argument registers used (the routine's %al) */
    PlanHeader h;
    PlanMove moves[];   /* h.nmoves argument moves, then h.nret return moves */
} Plan;

/* plan_prepare and call_plan are in tiers/tier.h, with every tier's. */
void plan_free(FunctionObject *f);
PyObject *call_plan_small(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames);
int plan_add_constants(PyObject *module);

#endif
