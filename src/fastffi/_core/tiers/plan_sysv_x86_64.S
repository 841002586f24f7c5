/* The plan tier's call routines for the System V AMD64 ABI.
 *
 *   void fastffi_plan_call*(void (*target)(void), void *frame,
 *                           size_t stack_size, void *ret_image, unsigned nvec)
 *
 * frame (plan.h): rdi..r9 at 0..47, xmm0..xmm7 at 64 + 16*i,
 *                 stack area at 208 (stack_size bytes, a multiple of 16).
 * ret_image:      rax at 0, rdx at 8, xmm0 at 16, xmm1 at 32, st0 at 48
 *                 (fastffi_plan_call_x87 only).
 *
 * Three routines, one chosen per plan at creation: the general one, one for
 * plans with nothing on the stack, and one for plans that use only integer
 * registers -- the common small signatures skip the loads they do not need.
 * No code is generated: these serve every plan. */
#if defined(__x86_64__) && defined(__linux__)

    .text

/* Store the return registers through %r12 (callee-saved across the call). */
.macro STORE_RETURN
    movq    %rax, 0(%r12)
    movq    %rdx, 8(%r12)
    movq    %xmm0, 16(%r12)
    movq    %xmm1, 32(%r12)
.endm

.macro LOAD_GP base
    movq    0(\base), %rdi
    movq    8(\base), %rsi
    movq    16(\base), %rdx
    movq    24(\base), %rcx
    movq    32(\base), %r8
    movq    40(\base), %r9
.endm

.macro LOAD_FP base
    movq    64(\base), %xmm0
    movq    80(\base), %xmm1
    movq    96(\base), %xmm2
    movq    112(\base), %xmm3
    movq    128(\base), %xmm4
    movq    144(\base), %xmm5
    movq    160(\base), %xmm6
    movq    176(\base), %xmm7
.endm

/* The general routine: stack arguments and every register; with x87=1 it
 * also pops %st0 into the return image (below). */
.macro GENERAL_ROUTINE name, x87
    .globl  \name
    .hidden \name
    .type   \name, @function
    .p2align 4
\name:
    .cfi_startproc
    pushq   %rbp
    .cfi_def_cfa_offset 16
    .cfi_offset %rbp, -16
    movq    %rsp, %rbp
    .cfi_def_cfa_register %rbp
    pushq   %rbx
    /* psABI 3.5.7: %al is the number of vector registers used, read by a
     * variadic callee; nothing below touches %rax before the call. */
    movl    %r8d, %eax
    pushq   %r12
    .cfi_offset %rbx, -24
    .cfi_offset %r12, -32
    movq    %rdi, %r11          /* target */
    movq    %rsi, %rbx          /* frame */
    movq    %rcx, %r12          /* ret_image */
    /* psABI 3.2.2: %rsp is 16-byte aligned at the call; it is aligned here
     * after two pushes and stack_size is a multiple of 16. */
    subq    %rdx, %rsp
    /* Copy the stack area 16 bytes at a time: it is small, and rep movsb's
     * start-up costs more than the whole copy. */
    xorl    %ecx, %ecx
    testq   %rdx, %rdx
    jz      2f
1:  movdqu  208(%rbx,%rcx), %xmm0
    movdqu  %xmm0, (%rsp,%rcx)
    addq    $16, %rcx
    cmpq    %rdx, %rcx
    jb      1b
2:
    LOAD_FP %rbx
    LOAD_GP %rbx
    callq   *%r11
    STORE_RETURN
.if \x87
    fstpt   48(%r12)
.endif
    leaq    -16(%rbp), %rsp
    popq    %r12
    popq    %rbx
    popq    %rbp
    .cfi_def_cfa %rsp, 8
    ret
    .cfi_endproc
    .size   \name, .-\name
.endm

    GENERAL_ROUTINE fastffi_plan_call, 0

/* A long double result (psABI 3.2.3: class X87, returned in %st0): after
 * the other return registers, st0 is popped into the return image at 48
 * (plan.h PLAN_RET_X87_OFFSET), 10 bytes.  A routine of its own: only these
 * callees leave a value on the x87 stack, which must be popped. */
    GENERAL_ROUTINE fastffi_plan_call_x87, 1

/* Registers only: nothing on the stack. */
    .globl  fastffi_plan_call_regs
    .hidden fastffi_plan_call_regs
    .type   fastffi_plan_call_regs, @function
    .p2align 4
fastffi_plan_call_regs:
    .cfi_startproc
    pushq   %r12                /* also realigns %rsp to 16 for the call */
    .cfi_def_cfa_offset 16
    .cfi_offset %r12, -16
    movq    %rcx, %r12
    movq    %rdi, %r11
    LOAD_FP %rsi
    movq    0(%rsi), %rdi
    movq    16(%rsi), %rdx
    movq    24(%rsi), %rcx
    movl    %r8d, %eax          /* nvec: %al (psABI 3.5.7), before %r8 is loaded */
    movq    32(%rsi), %r8
    movq    40(%rsi), %r9
    movq    8(%rsi), %rsi       /* last: %rsi was the frame pointer */
    callq   *%r11
    STORE_RETURN
    popq    %r12
    .cfi_def_cfa_offset 8
    ret
    .cfi_endproc
    .size   fastffi_plan_call_regs, .-fastffi_plan_call_regs

/* Integer registers only: no stack, no vector argument registers. */
    .globl  fastffi_plan_call_gp
    .hidden fastffi_plan_call_gp
    .type   fastffi_plan_call_gp, @function
    .p2align 4
fastffi_plan_call_gp:
    .cfi_startproc
    pushq   %r12
    .cfi_def_cfa_offset 16
    .cfi_offset %r12, -16
    movq    %rcx, %r12
    movq    %rdi, %r11
    movq    0(%rsi), %rdi
    movq    16(%rsi), %rdx
    movq    24(%rsi), %rcx
    movq    32(%rsi), %r8
    movq    40(%rsi), %r9
    movq    8(%rsi), %rsi
    xorl    %eax, %eax
    callq   *%r11
    STORE_RETURN
    popq    %r12
    .cfi_def_cfa_offset 8
    ret
    .cfi_endproc
    .size   fastffi_plan_call_gp, .-fastffi_plan_call_gp

#endif
    .section .note.GNU-stack,"",@progbits
