/*
 * Free page reporting (virtio 1.2 5.5.6.7) and page poison (5.5.6.6):
 * reported pages are acknowledged; without PAGE_POISON (or poison_val 0) QEMU
 * discards them (they read back as zero), neighbours keep their pattern;
 * with PAGE_POISON and a non-zero poison_val the driver fills them with
 * poison_val first (5.5.6.7.1) and the device must not change them to
 * anything else (5.5.6.7.2).
 * Args: pages=N per report (default 64), rounds=N (default 16).
 */
#include "types.h"
#include "pages.h"
#include "report.h"
#include "args.h"
#include "test.h"
#include "guest/tests/balloon-util.h"

static struct balloon bal;

static void report_test(void)
{
	struct balloon *b = &bal;
	u64 n = arg_u64("pages", 64), rounds = arg_u64("rounds", 16), base, acked = 0, zero = 0, poisoned = 0, kept = 0;

	guard_init(32);
	if (!bt_init(b))
		return;
	if (!b->rvq) {
		report(false, "PAGE_REPORTING negotiated");
		return;
	}
	if (!pool_alloc_run(&guest_pool, rounds * (n + 1) + 1, 1, &base))
		panic("no pages");
	pattern_fill(base, rounds * (n + 1) + 1, 7);
	for (u64 r = 0; r < rounds; r++) {
		u64 p = base + 1 + r * (n + 1);

		acked += balloon_report(b, p, n) == 0;
		zero += pages_zero(p, n);
		poisoned += pages_hold_u32(p, n, b->poison_val);
		kept += pattern_ok(p - 1, 1, 7);
	}
	kept += pattern_ok(base + rounds * (n + 1), 1, 7);
	report(acked == rounds, "%llu reports of %llu pages acknowledged", (unsigned long long)acked,
	       (unsigned long long)n);
	if (b->poison && b->poison_val)
		report(poisoned == rounds,
		       "PAGE_POISON 0x%x: reported pages hold poison_val (driver 5.5.6.7.1, device 5.5.6.7.2) %llu/%llu",
		       b->poison_val, (unsigned long long)poisoned, (unsigned long long)rounds);
	else
		report(zero == rounds, "reported pages discarded by the host: read back as zero (%llu/%llu)",
		       (unsigned long long)zero, (unsigned long long)rounds);
	report(kept == rounds + 1, "pages between reports keep their pattern (%llu/%llu)", (unsigned long long)kept,
	       (unsigned long long)rounds + 1);
	pool_free_range(&guest_pool, base, rounds * (n + 1) + 1);
	guard_check();
}
GUEST_TEST("balloon-report", report_test, "free page reporting with and without poison");
