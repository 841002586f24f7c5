/* The plan tier's call routine for the System V AMD64 ABI.
 *
 *   void fastffi_plan_call(void (*target)(void), void *frame,
 *                          size_t stack_size, void *ret_image)
 *
 * frame (plan.h): rdi..r9 at 0..47, xmm0..xmm7 at 64 + 16*i,
 *                 stack area at 208 (stack_size bytes, a multiple of 16).
 * ret_image:      rax at 0, rdx at 8, xmm0 at 16, xmm1 at 32.
 * No code is generated: this one routine serves every plan. */
#if defined(__x86_64__) && defined(__linux__)

    .text
    .globl  fastffi_plan_call
    .hidden fastffi_plan_call
    .type   fastffi_plan_call, @function
    .p2align 4
fastffi_plan_call:
    .cfi_startproc
    pushq   %rbp
    .cfi_def_cfa_offset 16
    .cfi_offset %rbp, -16
    movq    %rsp, %rbp
    .cfi_def_cfa_register %rbp
    pushq   %rbx
    pushq   %r12
    .cfi_offset %rbx, -24
    .cfi_offset %r12, -32

    movq    %rdi, %r11          /* target */
    movq    %rsi, %rbx          /* frame (callee-saved: survives the call) */
    movq    %rcx, %r12          /* ret_image */

    /* psABI 3.2.2: %rsp is 16-byte aligned at the call; stack_size is a
     * multiple of 16 and %rsp is aligned here after two pushes. */
    subq    %rdx, %rsp
    movq    %rdx, %rcx
    leaq    208(%rbx), %rsi
    movq    %rsp, %rdi
    rep movsb

    movq    64(%rbx), %xmm0
    movq    80(%rbx), %xmm1
    movq    96(%rbx), %xmm2
    movq    112(%rbx), %xmm3
    movq    128(%rbx), %xmm4
    movq    144(%rbx), %xmm5
    movq    160(%rbx), %xmm6
    movq    176(%rbx), %xmm7
    movq    0(%rbx), %rdi
    movq    8(%rbx), %rsi
    movq    16(%rbx), %rdx
    movq    24(%rbx), %rcx
    movq    32(%rbx), %r8
    movq    40(%rbx), %r9
    /* %al bounds the vector registers used, read by variadic callees. */
    movl    $8, %eax
    callq   *%r11

    movq    %rax, 0(%r12)
    movq    %rdx, 8(%r12)
    movq    %xmm0, 16(%r12)
    movq    %xmm1, 32(%r12)

    leaq    -16(%rbp), %rsp
    popq    %r12
    popq    %rbx
    popq    %rbp
    .cfi_def_cfa %rsp, 8
    ret
    .cfi_endproc
    .size   fastffi_plan_call, .-fastffi_plan_call

#endif
    .section .note.GNU-stack,"",@progbits
