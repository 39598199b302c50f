/*
 * Time: the TSC, calibrated at boot against the ACPI PM timer (3.579545 MHz,
 * from the FADT), or the PIT when there is none. Under TCG this is emulated
 * time; accel_name() says which accelerator ran.
 */
#ifndef GUEST_TIMER_H
#define GUEST_TIMER_H
#include "types.h"

static inline u64 rdtsc(void)
{
	u32 lo, hi;
	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}

extern u64 tsc_hz;
void timer_init(void);
u64 now_ns(void);		/* ns since timer_init */
static inline u64 ns_to_us(u64 ns) { return ns / 1000; }
void udelay(u64 us);
void mdelay(u64 ms);
const char *accel_name(void);	/* "kvm", "tcg" or "unknown", from CPUID */
const char *timer_source(void);	/* "acpi-pm" or "pit" */
#endif
