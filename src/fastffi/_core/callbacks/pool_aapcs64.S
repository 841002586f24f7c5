/* The static trampoline pool for AAPCS64 (Linux): the `plan` callback
 * mechanism's code, assembled into _core (no executable memory is made at
 * run time, so it works where W^X policies refuse it).
 *
 * Slot i (16 bytes, POOL_SLOTS of them from fastffi_pool_slots):
 *     bti    c                BTI landing pad for an indirect call (BLR)
 *     movz   x17, #i          x17 (IP1) is free to clobber between a call
 *                             and its callee (AAPCS64 6.1.1)
 *     b      relay
 *     udf                     padding, never runs
 *
 * The relay spills x0..x7, q0..q7 and x8 (the indirect result register)
 * into a frame image laid out as tiers/plan.h's (x0..x7 at 0..63, v0..v7 at
 * 64 + 16*i, x8 at 192) on its own stack and calls
 *     void callback_dispatch_slot(uint32_t index, void *frame,
 *                                 void *stack_args, void *ret_image)
 * (callbacks/pool.c), stack_args being the caller's sp (its first stack
 * argument, AAPCS64 6.8.2 C.14), then loads x0, x1, q0..q3 from the return
 * image (plan.h: x0 0, x1 8, v0..v3 at 16 + 16*i). */
#if defined(__aarch64__) && defined(__linux__)

#define POOL_SLOTS 16384
/* [sp] x29, x30; [sp+16] the frame image (208 bytes); [sp+224] the return
 * image (80 bytes): 304 in all, a multiple of 16 (AAPCS64 6.4.5.1). */
#define FRAME 16
#define RET 224
#define LOCALS 304

    .text

    .type   fastffi_pool_relay, %function
    .p2align 4
fastffi_pool_relay:
    .cfi_startproc
    stp     x29, x30, [sp, #-LOCALS]!
    .cfi_def_cfa_offset LOCALS
    .cfi_offset x29, -LOCALS
    .cfi_offset x30, -(LOCALS - 8)
    mov     x29, sp
    stp     x0, x1, [sp, #FRAME + 0]
    stp     x2, x3, [sp, #FRAME + 16]
    stp     x4, x5, [sp, #FRAME + 32]
    stp     x6, x7, [sp, #FRAME + 48]
    stp     q0, q1, [sp, #FRAME + 64]
    stp     q2, q3, [sp, #FRAME + 96]
    stp     q4, q5, [sp, #FRAME + 128]
    stp     q6, q7, [sp, #FRAME + 160]
    str     x8, [sp, #FRAME + 192]
    mov     w0, w17                     /* index */
    add     x1, sp, #FRAME              /* frame */
    add     x2, sp, #LOCALS             /* stack_args: the caller's sp */
    add     x3, sp, #RET                /* ret_image */
    bl      callback_dispatch_slot
    ldp     x0, x1, [sp, #RET + 0]
    ldp     q0, q1, [sp, #RET + 16]
    ldp     q2, q3, [sp, #RET + 48]
    ldp     x29, x30, [sp], #LOCALS
    .cfi_restore x29
    .cfi_restore x30
    .cfi_def_cfa_offset 0
    ret
    .cfi_endproc
    .size   fastffi_pool_relay, .-fastffi_pool_relay

/* The slots.  One FDE covers them all: nothing in a slot touches sp or
 * x30, so the CIE's initial rules (CFA = sp, return address in x30) hold
 * at every slot instruction. */
    .globl  fastffi_pool_slots
    .hidden fastffi_pool_slots
    .type   fastffi_pool_slots, %function
    .p2align 4
fastffi_pool_slots:
    .cfi_startproc
    .set    .Lslot, 0
    .rept   POOL_SLOTS
    hint    #34                       /* bti c, spelt so any assembler takes it */
    movz    x17, #.Lslot
    b       fastffi_pool_relay
    udf     #0
    .set    .Lslot, .Lslot + 1
    .endr
    .cfi_endproc
    .size   fastffi_pool_slots, .-fastffi_pool_slots

    .globl  fastffi_pool_slots_end
    .hidden fastffi_pool_slots_end
fastffi_pool_slots_end:

    .hidden callback_dispatch_slot

#endif
    .section .note.GNU-stack,"",%progbits
