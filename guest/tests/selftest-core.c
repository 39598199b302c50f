/*
 * The core's plumbing: arguments arrive, the report API counts, exceptions
 * are caught and reported, interrupts are dispatched. The break= argument
 * makes one check fail on purpose (the runner's own negative tests).
 */
#include "report.h"
#include "args.h"
#include "irq.h"
#include "timer.h"
#include "string.h"
#include "test.h"

static volatile int self_ipi_seen;

static void self_ipi(int vector, void *ctx)
{
	self_ipi_seen++;
}

static void selftest_core(void)
{
	const char *v = arg_get("check");
	int vec;

	report(v && !strcmp(v, "hello-world"), "guest argument check=hello-world arrived (got '%s')",
	       v ? v : "(none)");
	report(arg_u64("num", 0) == 0x10000 && arg_u64("size", 0) == (3ULL << 30),
	       "numeric arguments parse (num=0x10000, size=3G)");
	report(arg_bool("flag", false), "a bare key reads as true");

	/* a self-IPI through the LAPIC reaches its handler */
	vec = irq_alloc_vector();
	irq_set_handler(vec, self_ipi, NULL);
	{
		volatile u32 *icr = (volatile u32 *)(uintptr_t)0xfee00300;

		irq_disable();
		*icr = 0x40000 | (u32)vec;	/* shorthand self, fixed */
		for (int i = 0; i < 1000 && !self_ipi_seen; i++)
			irq_wait();
	}
	report(self_ipi_seen == 1 && irq_count(vec) == 1, "a self-IPI is dispatched to its handler once");

	v = arg_get("break");
	if (v && !strcmp(v, "report"))
		report(false, "forced failure (break=report)");
	if (v && !strcmp(v, "exception"))
		asm volatile("ud2");
	if (v && !strcmp(v, "pagefault"))
		*(volatile u64 *)(uintptr_t)0x7ffffffff000ULL = 1;	/* beyond the map */
	if (v && !strcmp(v, "hang"))
		for (;;)
			asm volatile("cli; hlt");
}
GUEST_TEST("selftest-core", selftest_core, "arguments, reports, exceptions, interrupts");
