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
static inline void irq_wait(void) { asm volatile("sti; hlt; cli" ::: "memory"); }
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
