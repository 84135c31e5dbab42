/*
 * x86-64 System V: switch stacks saving only what the callee must preserve
 * (rbx, rbp, r12-r15, the x87 control word and MXCSR).
 *
 * void curio__ctx_swap(void **save_sp, void *new_sp)
 */
    .text
    .globl curio__ctx_swap
    .hidden curio__ctx_swap
    .type curio__ctx_swap, @function
curio__ctx_swap:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size curio__ctx_swap, .-curio__ctx_swap

/*
 * First code run on a new stack: curio__ctx_make leaves entry in r12 and its argument in
 * r13. rsp is 16-byte aligned here, as the ABI wants before a call. The zero return
 * address pushed by the call ends stack walks (debuggers, the monitor's `where`).
 */
    .globl curio__ctx_trampoline
    .hidden curio__ctx_trampoline
    .type curio__ctx_trampoline, @function
curio__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    xorl %ebp, %ebp
    movq %r13, %rdi
    callq *%r12
    ud2
    .cfi_endproc
    .size curio__ctx_trampoline, .-curio__ctx_trampoline

    .section .note.GNU-stack,"",@progbits
