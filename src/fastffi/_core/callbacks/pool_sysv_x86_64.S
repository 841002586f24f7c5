/* The static trampoline pool for the System V AMD64 ABI: the `plan`
 * callback mechanism's code, assembled into _core (no executable memory is
 * made at run time, so it works where W^X policies refuse it).
 *
 * Slot i (16 bytes, POOL_SLOTS of them from fastffi_pool_slots):
 *     endbr64                 CET/IBT landing pad: C reaches a slot by an indirect call
 *     movl   $i, %r11d        r11 is a scratch register no argument uses (psABI 3.2.1, fig. 3.4)
 *     jmp    relay
 *
 * The relay spills the argument registers into a frame image laid out as
 * tiers/plan.h's (rdi..r9 at 0..47, xmm0..xmm7 at 64 + 16*i) on its own
 * stack, and calls
 *     void callback_dispatch_slot(uint32_t index, void *frame,
 *                                 void *stack_args, void *ret_image)
 * (callbacks/pool.c), stack_args being the caller's first stack argument,
 * then loads rax, rdx, xmm0, xmm1 from the return image (plan.h's RET
 * layout: rax 0, rdx 8, xmm0 16, xmm1 32). */
#if defined(__x86_64__) && defined(__linux__)

#define POOL_SLOTS 16384
#define FRAME_IMAGE 208          /* PLAN_STACK_OFFSET: the register part of the frame */
#define RET_IMAGE 80             /* PLAN_RET_SIZE */
#define LOCALS (FRAME_IMAGE + RET_IMAGE)   /* 288: a multiple of 16 */

    .text

/* The relay: reached by a direct jmp from a slot, with the caller's return
 * address at (%rsp) and the slot index in %r11d. */
    .type   fastffi_pool_relay, @function
    .p2align 4
fastffi_pool_relay:
    .cfi_startproc
    pushq   %rbp
    .cfi_def_cfa_offset 16
    .cfi_offset %rbp, -16
    movq    %rsp, %rbp
    .cfi_def_cfa_register %rbp
    /* psABI 3.2.2: %rsp + 8 is 16-aligned at entry; after the push it is
     * aligned, and LOCALS keeps it so for the call below (and for movaps). */
    subq    $LOCALS, %rsp
    movq    %rdi, 0(%rsp)
    movq    %rsi, 8(%rsp)
    movq    %rdx, 16(%rsp)
    movq    %rcx, 24(%rsp)
    movq    %r8, 32(%rsp)
    movq    %r9, 40(%rsp)
    /* Whole registers: an SSE eightbyte of a struct is the low 8 bytes, a
     * float the low 4; the dispatcher reads what the plan says. */
    movaps  %xmm0, 64(%rsp)
    movaps  %xmm1, 80(%rsp)
    movaps  %xmm2, 96(%rsp)
    movaps  %xmm3, 112(%rsp)
    movaps  %xmm4, 128(%rsp)
    movaps  %xmm5, 144(%rsp)
    movaps  %xmm6, 160(%rsp)
    movaps  %xmm7, 176(%rsp)
    movl    %r11d, %edi                 /* index */
    movq    %rsp, %rsi                  /* frame */
    leaq    16(%rbp), %rdx              /* stack_args: above the saved %rbp and the return address */
    leaq    FRAME_IMAGE(%rsp), %rcx     /* ret_image */
    call    callback_dispatch_slot
    movq    FRAME_IMAGE+0(%rsp), %rax
    movq    FRAME_IMAGE+8(%rsp), %rdx
    movq    FRAME_IMAGE+16(%rsp), %xmm0
    movq    FRAME_IMAGE+32(%rsp), %xmm1
    leave
    .cfi_def_cfa %rsp, 8
    ret
    .cfi_endproc
    .size   fastffi_pool_relay, .-fastffi_pool_relay

/* The slots.  One FDE covers them all: nothing in a slot moves %rsp, so
 * the CFA is %rsp + 8 and the return address is at the CFA - 8 throughout
 * (the CIE's initial rule), which lets an unwinder or a profiler walk out of
 * any slot instruction. */
    .globl  fastffi_pool_slots
    .hidden fastffi_pool_slots
    .type   fastffi_pool_slots, @function
    .p2align 4
fastffi_pool_slots:
    .cfi_startproc
    .set    .Lslot, 0
    .rept   POOL_SLOTS
    endbr64
    movl    $.Lslot, %r11d
    jmp     fastffi_pool_relay        /* rel32: 15 bytes so far */
    .p2align 4, 0xcc                  /* padding never runs: int3 */
    .set    .Lslot, .Lslot + 1
    .endr
    .cfi_endproc
    .size   fastffi_pool_slots, .-fastffi_pool_slots

    .globl  fastffi_pool_slots_end
    .hidden fastffi_pool_slots_end
fastffi_pool_slots_end:

    .hidden callback_dispatch_slot

#endif
    .section .note.GNU-stack,"",@progbits
