/*
 * AArch64 (AAPCS64): switch stacks saving x19-x30 and d8-d15, the registers a callee must
 * preserve, plus the stack pointer.
 *
 * void curio__ctx_swap(void **save_sp, void *new_sp)
 */
    .text
    .globl curio__ctx_swap
    .hidden curio__ctx_swap
    .type curio__ctx_swap, %function
    .p2align 2
curio__ctx_swap:
    sub sp, sp, #160
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mov x9, sp
    str x9, [x0]
    mov sp, x1
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    add sp, sp, #160
    ret
    .size curio__ctx_swap, .-curio__ctx_swap

/* First code on a new stack: x19 = entry, x20 = argument (set by curio__ctx_make). */
    .globl curio__ctx_trampoline
    .hidden curio__ctx_trampoline
    .type curio__ctx_trampoline, %function
    .p2align 2
curio__ctx_trampoline:
    mov x29, #0
    mov x30, #0
    mov x0, x20
    blr x19
    brk #0
    .size curio__ctx_trampoline, .-curio__ctx_trampoline

    .section .note.GNU-stack,"",%progbits
