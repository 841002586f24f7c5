/* The plan tier's call routine for AAPCS64 (Linux).
 *
 *   void fastffi_plan_call(void (*target)(void), void *frame,
 *                          size_t stack_size, void *ret_image, unsigned nvec)
 *
 * nvec (x-86-64's %al) means nothing here: AAPCS64 on Linux passes variadic
 * arguments as if named (AAPCS64 6.4.2), so a variadic call is a plain one.
 *
 * frame (plan.h): x0..x7 at 0..63, v0..v7 at 64 + 16*i, x8 at 192,
 *                 stack area at 208 (stack_size bytes, a multiple of 16).
 * ret_image:      x0 at 0, x1 at 8, v0..v3 at 16 + 16*i.
 * No code is generated: this one routine serves every plan. */
#if defined(__aarch64__) && defined(__linux__)

    .text
    .globl  fastffi_plan_call
    .hidden fastffi_plan_call
    .type   fastffi_plan_call, %function
    .p2align 2
fastffi_plan_call:
    .cfi_startproc
    stp     x29, x30, [sp, #-32]!
    .cfi_def_cfa_offset 32
    .cfi_offset x29, -32
    .cfi_offset x30, -24
    mov     x29, sp
    .cfi_def_cfa_register x29
    stp     x19, x20, [sp, #16]
    .cfi_offset x19, -16
    .cfi_offset x20, -8

    mov     x19, x3             /* ret_image (callee-saved) */
    mov     x9, x0              /* target */
    mov     x10, x1             /* frame */

    /* AAPCS64 6.4.5.1: sp stays 16-byte aligned; stack_size is a multiple of 16. */
    sub     sp, sp, x2
    add     x11, x10, #208
    mov     x12, sp
1:  cbz     x2, 2f
    ldp     x13, x14, [x11], #16
    stp     x13, x14, [x12], #16
    sub     x2, x2, #16
    b       1b
2:
    ldp     q0, q1, [x10, #64]
    ldp     q2, q3, [x10, #96]
    ldp     q4, q5, [x10, #128]
    ldp     q6, q7, [x10, #160]
    ldr     x8, [x10, #192]
    ldp     x0, x1, [x10, #0]
    ldp     x2, x3, [x10, #16]
    ldp     x4, x5, [x10, #32]
    ldp     x6, x7, [x10, #48]
    blr     x9

    stp     x0, x1, [x19, #0]
    stp     q0, q1, [x19, #16]
    stp     q2, q3, [x19, #48]

    mov     sp, x29
    ldp     x19, x20, [sp, #16]
    ldp     x29, x30, [sp], #32
    .cfi_def_cfa sp, 0
    ret
    .cfi_endproc
    .size   fastffi_plan_call, .-fastffi_plan_call

/* The register-only variants the x86-64 file specialises cost little here
 * (paired loads, a zero-length copy loop exits at once): they are the same
 * routine. */
    .globl  fastffi_plan_call_regs
    .hidden fastffi_plan_call_regs
    .set    fastffi_plan_call_regs, fastffi_plan_call
    .globl  fastffi_plan_call_gp
    .hidden fastffi_plan_call_gp
    .set    fastffi_plan_call_gp, fastffi_plan_call

#endif
    .section .note.GNU-stack,"",%progbits
