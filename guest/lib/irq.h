/*
 * Interrupts: the guest's own IDT and a local APIC (xAPIC). Exceptions
 * (vectors 0-31) are fatal: they print vector, error code, RIP and CR2 and
 * fail the run. Vectors 32-255 dispatch to handlers registered here; the
 * dispatcher sends the LAPIC EOI after the handler returns.
 */
#ifndef GUEST_IRQ_H
#define GUEST_IRQ_H
#include "types.h"

typedef void (*irq_handler_t)(int vector, void *ctx);

int irq_alloc_vector(void);	/* a free vector >= 48, or -1 */
void irq_set_handler(int vector, irq_handler_t fn, void *ctx);
static inline void irq_enable(void) { asm volatile("sti" ::: "memory"); }
static inline void irq_disable(void) { asm volatile("cli" ::: "memory"); }
/*
 * sti; hlt is atomic only when IF was clear before it (STI's shadow): call
 * irq_wait with interrupts off after checking what it waits for, or an
 * interrupt taken just before the HLT leaves it halted until the next one.
 */
static inline void irq_wait(void) { asm volatile("sti; hlt; cli" ::: "memory"); }
/* interrupts off; the previous RFLAGS for irq_restore */
static inline u64 irq_save(void)
{
	u64 f;

	asm volatile("pushfq; pop %0; cli" : "=r"(f) :: "memory");
	return f;
}

static inline void irq_restore(u64 flags)
{
	if (flags & (1u << 9))	/* IF */
		irq_enable();
}
u32 lapic_id(void);
/* halt until about 'us' microseconds passed or any interrupt came (LAPIC timer) */
void irq_sleep_us(u64 us);
/* MSI/MSI-X message for 'vector' delivered to this CPU (fixed, edge) */
u64 msi_address(void);
u32 msi_data(int vector);
/* count of interrupts taken on a vector since boot (for tests) */
u64 irq_count(int vector);
/* For INTx: route IOAPIC input 'gsi' to 'vector' (level/active-low as PCI wants) */
void ioapic_route(int gsi, int vector, bool level, bool active_low);
void ioapic_mask(int gsi, bool mask);
#endif
