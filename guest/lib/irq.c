/* Exception reporting, IRQ dispatch, the local APIC and the IO-APIC. */
#include "irq.h"
#include "desc.h"
#include "io.h"
#include "printf.h"
#include "report.h"
#include "acpi.h"
#include "string.h"
#include "timer.h"

#define LAPIC_ID 0x20
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0
#define LVT_MASKED (1u << 16)
#define SPURIOUS_VECTOR 0xff
#define FIRST_DYN_VECTOR 48

static volatile u8 *lapic;
static volatile u32 *ioapic;
static struct {
	irq_handler_t fn;
	void *ctx;
	u64 count;
	bool used;
} vectors[256];

static const char *const exc_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO",
	"#TS", "#NP", "#SS", "#GP", "#PF", "res", "#MF", "#AC", "#MC", "#XM",
	"#VE", "#CP",
};

static inline u64 rdmsr(u32 msr)
{
	u32 lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((u64)hi << 32) | lo;
}

static inline void wrmsr(u32 msr, u64 v)
{
	asm volatile("wrmsr" :: "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)));
}

void isr_dispatch(struct irq_frame *f)
{
	int v = (int)f->vector;

	if (v < 32) {
		u64 cr2;

		asm volatile("mov %%cr2, %0" : "=r"(cr2));
		panic("unexpected exception %d (%s) error %#llx rip %#llx cr2 %#llx rsp %#llx",
		      v, exc_names[v] ? exc_names[v] : "?",
		      (unsigned long long)f->error, (unsigned long long)f->rip,
		      (unsigned long long)cr2, (unsigned long long)f->rsp);
	}
	vectors[v].count++;
	if (vectors[v].fn)
		vectors[v].fn(v, vectors[v].ctx);
	if (v != SPURIOUS_VECTOR)
		writel(0, lapic + LAPIC_EOI);
}

static void *madt_ioapic(void)
{
	u8 *madt = acpi_find_table("APIC");
	u32 len;

	if (!madt)
		return NULL;
	memcpy(&len, madt + 4, 4);
	for (u32 off = 44; off + 2 <= len; off += madt[off + 1]) {
		if (madt[off + 1] < 2)
			break;
		if (madt[off] == 1) {	/* I/O APIC entry */
			u32 addr;

			memcpy(&addr, madt + off + 4, 4);
			return phys_to_virt(addr);
		}
	}
	return NULL;
}

void irq_init(void)
{
	u64 base = rdmsr(0x1b);

	/* the legacy PIC stays fully masked: we route through APICs only */
	outb(0xff, 0x21);
	outb(0xff, 0xa1);
	wrmsr(0x1b, base | (1 << 11));
	lapic = phys_to_virt(base & ~0xfffULL);
	writel(0, lapic + LAPIC_TPR);
	writel(0x100 | SPURIOUS_VECTOR, lapic + LAPIC_SVR);
	vectors[SPURIOUS_VECTOR].used = true;
	ioapic = madt_ioapic();
	if (!ioapic)
		ioapic = phys_to_virt(0xfec00000);
}

int irq_alloc_vector(void)
{
	for (int v = FIRST_DYN_VECTOR; v < SPURIOUS_VECTOR; v++) {
		if (!vectors[v].used) {
			vectors[v].used = true;
			return v;
		}
	}
	return -1;
}

void irq_set_handler(int vector, irq_handler_t fn, void *ctx)
{
	vectors[vector].used = true;
	vectors[vector].ctx = ctx;
	vectors[vector].fn = fn;
}

u64 irq_count(int vector)
{
	return vectors[vector].count;
}

u32 lapic_id(void)
{
	return readl(lapic + LAPIC_ID) >> 24;
}

u64 msi_address(void)
{
	return 0xfee00000ULL | ((u64)lapic_id() << 12);
}

u32 msi_data(int vector)
{
	return (u32)vector;	/* fixed delivery, edge */
}

static void ioapic_write(u32 reg, u32 v)
{
	writel(reg, ioapic);
	writel(v, ioapic + 4);
}

static u32 ioapic_read(u32 reg)
{
	writel(reg, ioapic);
	return readl(ioapic + 4);
}

void ioapic_route(int gsi, int vector, bool level, bool active_low)
{
	u32 lo = (u32)vector | (level ? 1 << 15 : 0) | (active_low ? 1 << 13 : 0);

	ioapic_write(0x11 + 2 * gsi, lapic_id() << 24);
	ioapic_write(0x10 + 2 * gsi, lo);
}

void ioapic_mask(int gsi, bool mask)
{
	u32 lo = ioapic_read(0x10 + 2 * gsi);

	ioapic_write(0x10 + 2 * gsi, mask ? lo | (1 << 16) : lo & ~(1u << 16));
}

/*
 * Sleeping: the LAPIC timer in one-shot mode, calibrated once against the
 * TSC, wakes a HLT. Under TCG a halted vCPU gives its host thread's CPU back
 * (a busy-waiting one competes with QEMU's own threads on a small host).
 */
static int timer_vector = -1;
static u64 lapic_ticks_per_ms;

static void timer_tick(int vector, void *ctx)
{
	(void)vector;
	(void)ctx;
}

static void lapic_timer_setup(void)
{
	u32 left;

	timer_vector = irq_alloc_vector();
	if (timer_vector < 0)
		panic("irq: no vector for the LAPIC timer");
	irq_set_handler(timer_vector, timer_tick, NULL);
	writel(0xb, lapic + LAPIC_TIMER_DIV);	/* divide by 1 */
	writel(LVT_MASKED | (u32)timer_vector, lapic + LAPIC_LVT_TIMER);
	writel(0xffffffffu, lapic + LAPIC_TIMER_INIT);
	udelay(2000);
	left = readl(lapic + LAPIC_TIMER_CUR);
	writel(0, lapic + LAPIC_TIMER_INIT);
	lapic_ticks_per_ms = (0xffffffffu - left) / 2;
	if (!lapic_ticks_per_ms)
		panic("irq: the LAPIC timer does not count");
	writel((u32)timer_vector, lapic + LAPIC_LVT_TIMER);	/* one-shot, unmasked */
}

void irq_sleep_us(u64 us)
{
	u64 ticks, flags;

	if (timer_vector < 0)
		lapic_timer_setup();
	ticks = us * lapic_ticks_per_ms / 1000;
	if (!ticks)
		ticks = 1;
	if (ticks > 0xffffffffu)
		ticks = 0xffffffffu;
	/*
	 * Arm the timer with interrupts off: the driver leaves IF set after
	 * device setup (virtio/balloon/device.c), and with IF set a short
	 * timer can expire and be taken between the write and the HLT; the
	 * HLT then waits for an interrupt that already came (the one-shot
	 * timer is spent) and never wakes. With IF clear the expiry stays
	 * pending in IRR, and STI's one-instruction shadow delivers it only
	 * once HLT has started, which it ends.
	 */
	flags = irq_save();
	writel((u32)ticks, lapic + LAPIC_TIMER_INIT);
	irq_wait();	/* the timer, or any other interrupt, ends it */
	writel(0, lapic + LAPIC_TIMER_INIT);
	irq_restore(flags);
}
