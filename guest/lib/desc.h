/* Core-internal setup steps called from main.c. */
#ifndef GUEST_DESC_H
#define GUEST_DESC_H
#include "types.h"
#include "bootinfo.h"

struct irq_frame {
	u64 r15, r14, r13, r12, r11, r10, r9, r8;
	u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
	u64 vector, error;
	u64 rip, cs, rflags, rsp, ss;
};

void desc_init(void);
void irq_init(void);
void paging_init(struct boot_info *bi, u64 *tables, u64 nr_pages);
void mm_init(struct boot_info *bi);
#endif
