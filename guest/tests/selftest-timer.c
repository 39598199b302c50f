/* The calibrated clock: monotonic, and it agrees with the host's clock. */
#include "report.h"
#include "timer.h"
#include "hostcall.h"
#include "args.h"
#include "string.h"
#include "test.h"

static void selftest_timer(void)
{
	u64 last = now_ns(), back = 0, interval_ms = arg_u64("interval_ms", 2000);
	u64 h0, h1, g0, g1, tol_pct = arg_u64("tolerance_pct", 5);
	char r[128];

	report_info("tsc %llu kHz from %s, accelerator %s",
		    (unsigned long long)(tsc_hz / 1000), timer_source(), accel_name());
	report(tsc_hz > 100000000ULL, "TSC frequency is plausible (> 100 MHz)");
	for (int i = 0; i < 1000000; i++) {
		u64 t = now_ns();

		if (t < last)
			back++;
		last = t;
	}
	report(!back, "now_ns() never goes backwards over 1e6 reads");

	if (!hostcall_available()) {
		report_skip("host agent absent: cannot compare with host time");
		return;
	}
	/* bracket a guest delay with two host timestamps */
	if (hostcall(r, sizeof(r), 5000, "time")) {
		report(false, "host agent answers 'time' (%s)", r);
		return;
	}
	h0 = strtoull(r, NULL, 10);
	g0 = now_ns();
	mdelay(interval_ms);
	g1 = now_ns();
	if (hostcall(r, sizeof(r), 5000, "time")) {
		report(false, "host agent answers 'time' (%s)", r);
		return;
	}
	h1 = strtoull(r, NULL, 10);
	{
		u64 g = g1 - g0, h = h1 - h0, diff = g > h ? g - h : h - g;
		/* the two host calls add latency to h, not to g: allow it */
		u64 allowed = h / 100 * tol_pct + 50000000ULL;

		report(diff <= allowed,
		       "guest clock agrees with host clock over %llu ms: guest %llu us, host %llu us (off by %llu us, allowed %llu us)",
		       (unsigned long long)interval_ms, (unsigned long long)(g / 1000),
		       (unsigned long long)(h / 1000), (unsigned long long)(diff / 1000),
		       (unsigned long long)(allowed / 1000));
	}
}
GUEST_TEST("selftest-timer", selftest_timer, "clock: monotonic, calibrated against host time");
