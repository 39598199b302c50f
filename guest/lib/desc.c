/* The guest's own GDT and IDT, installed once boot services are gone. */
#include "types.h"
#include "desc.h"
#include "string.h"

struct idt_entry {
	u16 off0;
	u16 sel;
	u8 ist;
	u8 type;
	u16 off1;
	u32 off2;
	u32 zero;
} __packed;

struct dtr {
	u16 limit;
	u64 base;
} __packed;

static u64 gdt[] = {
	0,
	0x00af9a000000ffffULL,	/* 0x08: 64-bit code */
	0x00cf92000000ffffULL,	/* 0x10: data */
};

static struct idt_entry idt[256] __attribute__((aligned(16)));
extern char isr_stubs[];

void desc_init(void)
{
	struct dtr g = { sizeof(gdt) - 1, (u64)(uintptr_t)gdt };
	struct dtr i = { sizeof(idt) - 1, (u64)(uintptr_t)idt };

	asm volatile("lgdt %0\n\t"
		     "mov $0x10, %%ax\n\t"
		     "mov %%ax, %%ds\n\t"
		     "mov %%ax, %%es\n\t"
		     "mov %%ax, %%ss\n\t"
		     "mov %%ax, %%fs\n\t"
		     "mov %%ax, %%gs\n\t"
		     "pushq $0x08\n\t"
		     "leaq 1f(%%rip), %%rax\n\t"
		     "pushq %%rax\n\t"
		     "lretq\n"
		     "1:" :: "m"(g) : "rax", "memory");

	for (int v = 0; v < 256; v++) {
		u64 a = (u64)(uintptr_t)(isr_stubs + 16 * v);

		idt[v].off0 = a & 0xffff;
		idt[v].sel = 0x08;
		idt[v].ist = 0;
		idt[v].type = 0x8e;	/* present, DPL0, interrupt gate */
		idt[v].off1 = (a >> 16) & 0xffff;
		idt[v].off2 = a >> 32;
		idt[v].zero = 0;
	}
	asm volatile("lidt %0" :: "m"(i) : "memory");
}
