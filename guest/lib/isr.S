/* Interrupt entry stubs: push a uniform frame and call isr_dispatch(frame). */
	.text
	.code64

.macro STUB vec
	.align 16
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0		/* no CPU error code: keep the frame uniform */
	.endif
	pushq $\vec
	jmp isr_common
.endm

isr_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	cld
	movq %rsp, %rdi
	call isr_dispatch
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp		/* vector and error code */
	iretq

	/* every stub is 16 bytes apart: desc.c computes stub n as isr_stubs + 16 * n */
	.align 16
	.globl isr_stubs
isr_stubs:
	.altmacro
	.set i, 0
	.rept 256
	STUB %i
	.set i, i + 1
	.endr

	.section .note.GNU-stack,"",@progbits
