/*
 * The runner's live migration: the guest asks the host agent to migrate it
 * to a second QEMU while it keeps writing memory, then checks that its data
 * set, including what it wrote during the migration, arrived intact.
 */
#include "report.h"
#include "pages.h"
#include "hostcall.h"
#include "timer.h"
#include "args.h"
#include "string.h"
#include "printf.h"
#include "io.h"
#include "test.h"

static u64 mix(u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static void fill(u64 *p, u64 words, u64 seed)
{
	for (u64 i = 0; i < words; i++)
		p[i] = mix(seed + i);
}

static u64 check(const u64 *p, u64 words, u64 seed)
{
	u64 bad = 0;

	for (u64 i = 0; i < words; i++)
		bad += p[i] != mix(seed + i);
	return bad;
}

/* poll migrate-status until it ends; a call may be lost at the switch-over */
static bool wait_migration(char *status, size_t len, u64 *data, u64 words, u64 *gen)
{
	u64 end = now_ns() + 120ULL * 1000000000ULL;
	char r[1024];

	while (now_ns() < end) {
		/* keep dirtying memory while it migrates: these writes must arrive */
		(*gen)++;
		fill(data, words, *gen << 32);
		if (hostcall(r, sizeof(r), 2000, "migrate-status"))
			continue;
		if (strstr(r, "\"status\":\"completed\"") || strstr(r, "\"status\":\"failed\"") ||
		    strstr(r, "\"status\":\"cancelled\"")) {
			snprintf(status, len, "%s", r);
			return true;
		}
		mdelay(20);
	}
	snprintf(status, len, "migration did not end within 120 s");
	return false;
}

static void selftest_migrate(void)
{
	u64 mib = arg_u64("data_mib", 32), pages = mib << (20 - PAGE_SHIFT);
	u64 words = pages * PAGE_SIZE / 8, dirty_words = PAGE_SIZE * 16 / 8, gen = 1;
	u64 *data = pages_alloc(pages), *dirty = pages_alloc(16);
	char r[1024];
	u64 t0;

	if (!data || !dirty) {
		report(false, "allocate %llu MiB of data", (unsigned long long)mib);
		return;
	}
	if (!hostcall_available()) {
		report_skip("no host agent: cannot migrate");
		return;
	}
	fill(data, words, 0x5eed);
	t0 = now_ns();
	if (hostcall(r, sizeof(r), 30000, "migrate-start")) {
		report(false, "host agent starts a migration (%s)", r);
		return;
	}
	report(true, "host agent started a migration");
	report(wait_migration(r, sizeof(r), dirty, dirty_words, &gen) &&
	       strstr(r, "\"status\":\"completed\""),
	       "migration completed (%llu ms of guest time; the host-side total-time is in query-migrate)",
	       (unsigned long long)((now_ns() - t0) / 1000000));
	report_info("query-migrate: %.300s", r);
	report(check(data, words, 0x5eed) == 0, "%llu MiB data set intact after migration",
	       (unsigned long long)mib);
	report(check(dirty, dirty_words, gen << 32) == 0,
	       "pages written during the migration hold their last values");
	/* the guest goes on running on the destination and can still call the host */
	report(hostcall(r, sizeof(r), 5000, "time") == 0, "host agent answers after the switch-over");
}
GUEST_TEST("selftest-migrate", selftest_migrate, "live migration through the host agent keeps memory");
