/*
 * Faults in the middle of the protocol's long operations, with nothing lost
 * (issue 13 item 2; docs/reliability.md). One test, test=faults fault=NAME:
 *
 *   cancel      migrate_cancel during a free-page-bitmap round (after the
 *               first FREE_PAGES answer), then a migration that completes
 *   kill-dest   the destination QEMU killed (SIGKILL) mid-migration: the
 *               source goes on running the guest; then one that completes
 *   target      balloon target changes (inflate, then deflate) while a
 *               migration with the free-page bitmap runs
 *   postcopy    postcopy-ram on, migrate-start-postcopy half way: the device
 *               sends no FREE_PAGES (postcopy-skips), the data still arrives
 *   reset       system_reset while a DROP_CACHE, a FREE_PAGES (held, no
 *               DONE) and inflate requests are outstanding; the second boot
 *               checks boot 1's data, the device's counters and ids, and
 *               migrates (the host agent keeps notes across the reset)
 *   drop-cache  drop-cache qom-set with bad values, twice in a row, and
 *               (hostreq=0) on a driver without HOST_REQ
 *   overinflate target larger than the guest's free memory, then deflate
 *   hotplug     device_del of the balloon while inflated (native PCIe
 *               hot-plug on a root port), then device_add of a new one
 *
 * Every entry keeps a data set (live_mib, default 64 MiB) with a per-page
 * pattern, takes its checksum before the fault and verifies both after it,
 * on whichever QEMU ends up running the guest (asked from the host agent,
 * `where`); the TAP line says so. Pages the guest writes while a fault is
 * going on (after each FREE_PAGES answer, pages it just named free) are
 * verified with them.
 */
#include "types.h"
#include "io.h"
#include "irq.h"
#include "pages.h"
#include "string.h"
#include "printf.h"
#include "report.h"
#include "args.h"
#include "timer.h"
#include "hostcall.h"
#include "test.h"
#include "virtio/pci.h"
#include "virtio/balloon/balloon.h"
#include "guest/tests/balloon-util.h"
#include "guest/tests/fast-util.h"
#include "guest/tests/mig-util.h"

#define QOM_PATH "/machine/peripheral/balloon0/virtio-backend"
#define MIB_PAGES(m) ((u64)(m) << (20 - PAGE_SHIFT))

static struct balloon bal;
static char rbuf[4096];

/* ---- the data set: runs of pool pages, a pattern, a checksum ---- */

struct dset {
	struct fb_run runs[2048];
	u64 nruns, pages, seed;
};

static struct dset live, written, cache;
static u64 live_sum;

static bool ds_take(u64 pfn, u64 n, void *ctx)
{
	struct dset *d = ctx;

	d->runs[d->nruns].pfn = pfn;
	d->runs[d->nruns].n = n;
	d->nruns++;
	d->pages += n;
	return d->nruns < ARRAY_SIZE(d->runs);
}

static u64 ds_alloc(struct dset *d, u64 n)
{
	u64 before = d->pages, first = d->nruns;

	while (d->pages - before < n && d->nruns < ARRAY_SIZE(d->runs))
		if (!pool_alloc_bulk(&guest_pool, n - (d->pages - before), ds_take, d))
			break;
	for (u64 i = first; i < d->nruns; i++)
		fpat_fill(d->runs[i].pfn, d->runs[i].n, d->seed);
	return d->pages - before;
}

static u64 ds_free(struct dset *d)
{
	u64 n = d->pages;

	for (u64 i = 0; i < d->nruns; i++)
		pool_free_range(&guest_pool, d->runs[i].pfn, d->runs[i].n);
	d->nruns = d->pages = 0;
	return n;
}

static u64 ds_bad(const struct dset *d)
{
	u64 bad = 0;

	for (u64 i = 0; i < d->nruns; i++)
		bad += fpat_bad(d->runs[i].pfn, d->runs[i].n, d->seed);
	return bad;
}

static u64 ds_sum(const struct dset *d)
{
	u64 s = 0xcbf29ce484222325ull;

	for (u64 i = 0; i < d->nruns; i++) {
		const u64 *w = phys_to_virt(d->runs[i].pfn << PAGE_SHIFT);

		for (u64 k = 0; k < d->runs[i].n * (PAGE_SIZE / 8); k++)
			s = (s ^ w[k]) * 0x100000001b3ull;
	}
	return s;
}

static void where(char *w, size_t len)
{
	if (hostcall(w, len, 2000, "where"))
		snprintf(w, len, "?");
}

/* the check every entry makes after its fault, and says so */
static bool data_verify(const char *after)
{
	u64 bad = ds_bad(&live), sum = ds_sum(&live), wbad = ds_bad(&written);
	char w[32], extra[128] = "";
	bool ok;

	where(w, sizeof(w));
	if (written.pages)
		snprintf(extra, sizeof(extra), "; %llu pages written during it hold their pattern (%llu bad)",
			 (unsigned long long)written.pages, (unsigned long long)wbad);
	ok = bad == 0 && sum == live_sum && wbad == 0;
	report(ok, "nothing lost after %s: %llu MiB checksummed before (%016llx) verified on the QEMU now running the guest (%s): checksum %016llx, %llu bad pages%s",
	       after, (unsigned long long)(live.pages >> 8), (unsigned long long)live_sum, w, (unsigned long long)sum,
	       (unsigned long long)bad, extra);
	return ok;
}

/* ---- device statistics ---- */

static void service_idle(void)
{
	balloon_service(&bal);
}

/* let the driver answer what waits (a CANCEL after a migration, a DROP_CACHE) */
static void service_for(u64 ms)
{
	u64 end = now_ns() + ms * 1000000ull;

	while (now_ns() < end) {
		balloon_service(&bal);
		irq_sleep_us(500);
	}
}

/* host-req-stats say nothing is left over: no request awaiting DONE, no bad record */
static void hr_consistent(const char *when)
{
	char w[32];

	service_for(100);
	where(w, sizeof(w));
	if (!hr_stats(rbuf, sizeof(rbuf))) {
		report(false, "%s: host-req-stats readable (%s)", when, w);
		return;
	}
	report(jget(rbuf, "outstanding") == 0 && jget(rbuf, "queued") == 0 && jget(rbuf, "bad-records") == 0,
	       "%s: device on %s has no request left over and no bad record (outstanding %llu, queued %llu, bad-records %llu, answers %llu)",
	       when, w, (unsigned long long)jget(rbuf, "outstanding"), (unsigned long long)jget(rbuf, "queued"),
	       (unsigned long long)jget(rbuf, "bad-records"), (unsigned long long)jget(rbuf, "answers"));
}

static bool ids_unique(void)
{
	struct balloon *b = &bal;

	for (u32 i = 0; i < b->id_n; i++) {
		if (!b->id_log[i])
			return false;
		for (u32 j = 0; j < i; j++)
			if (b->id_log[i] == b->id_log[j])
				return false;
	}
	return true;
}

/* ---- one migration with a fault hook ---- */

struct mctl {
	char opts[160];
	u64 timeout_s;
	void (*tick)(struct mctl *c);	/* called every loop: inject the fault */
	u64 t0, now, reqs0, first_req_ns, answers;
	bool fired, fired2;
	char status[32];
	char final[4096];
};

static u64 write_max;	/* pages to write in all after FREE_PAGES answers (write_mib) */

static bool migrate(struct mctl *c)
{
	struct balloon *b = &bal;
	u64 end, next_poll = 0, done0 = b->hs.done;

	c->t0 = now_ns();
	end = c->t0 + c->timeout_s * 1000000000ull;
	c->reqs0 = b->hs.requests;
	c->first_req_ns = 0;
	c->fired = c->fired2 = false;
	c->status[0] = 0;
	hostcall_set_idle(service_idle);	/* the first request comes during migrate-start */
	if (hostcall(c->final, sizeof(c->final), 60000, "migrate-start %s", c->opts)) {
		hostcall_set_idle(NULL);
		report_info("migrate-start: %s", c->final);
		return false;
	}
	for (;;) {
		c->now = now_ns();
		balloon_service(b);
		if (b->hs.requests != c->reqs0 && !c->first_req_ns)
			c->first_req_ns = c->now;
		if (b->hs.done != done0) {
			/* pages just named free: write some at once (FB-D11), they must arrive */
			done0 = b->hs.done;
			c->answers++;
			if (written.pages < write_max)
				ds_alloc(&written, MIN(256, write_max - written.pages));
			/* break=hint-used (negative entry): the next answers name the pages just written */
			if (written.nruns && !bal.brk_n) {
				bal.brk_pfn = written.runs[0].pfn;
				bal.brk_n = written.runs[0].n;
			}
		}
		if (c->tick)
			c->tick(c);
		if (c->now >= next_poll) {
			next_poll = c->now + 20000000ull;
			if (hostcall(c->final, sizeof(c->final), 2000, "migrate-status") == 0) {
				mig_status(c->final, c->status, sizeof(c->status));
				if (!strcmp(c->status, "completed") || !strcmp(c->status, "failed") ||
				    !strcmp(c->status, "cancelled"))
					break;
			}
		}
		if (c->now >= end) {
			snprintf(c->status, sizeof(c->status), "timeout");
			hostcall(rbuf, sizeof(rbuf), 10000, "migrate-cancel");
			break;
		}
		irq_sleep_us(200);
	}
	hostcall_set_idle(NULL);
	service_for(100);	/* a CANCEL may wait in a buffer (on the destination, too) */
	report_info("migration (%s): %s after %llu ms, %llu FREE_PAGES answered", c->opts, c->status,
		    (unsigned long long)((now_ns() - c->t0) / 1000000), (unsigned long long)(b->hs.requests - c->reqs0));
	return true;
}

static void mctl_init(struct mctl *c, const char *opts)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->opts, sizeof(c->opts), "%s", opts);
	c->timeout_s = arg_u64("mig_timeout_s", 90);
}

/* a migration without a fault, which must complete, and the checks after it */
static bool migrate_clean(const char *what)
{
	struct mctl c;
	char o[64];

	snprintf(o, sizeof(o), "speed=%llu", (unsigned long long)arg_u64("speed", 256ull << 20));
	mctl_init(&c, o);
	if (!migrate(&c) || strcmp(c.status, "completed")) {
		report(false, "%s: the migration completed (%s)", what, c.status);
		return false;
	}
	report(true, "%s: the migration completed", what);
	data_verify(what);
	return true;
}

/* ---- fault=cancel ---- */

static void tick_cancel(struct mctl *c)
{
	/* the round is open from the request until the next sync: cancel right after our answer */
	if (!c->fired && c->answers) {
		c->fired = true;
		if (hostcall(rbuf, sizeof(rbuf), 10000, "migrate-cancel"))
			report_info("migrate-cancel: %s", rbuf);
	}
}

static void fault_cancel(void)
{
	bool ok;
	struct mctl c;
	char o[64];

	snprintf(o, sizeof(o), "speed=%llu", (unsigned long long)arg_u64("fault_speed", 32ull << 20));
	mctl_init(&c, o);
	c.tick = tick_cancel;
	ok = migrate(&c);
	report(ok && !strcmp(c.status, "cancelled") && c.fired,
	       "migrate_cancel during a free-page-bitmap round (after %llu answers): status %s", (unsigned long long)c.answers,
	       c.status);
	data_verify("the cancel");
	hr_consistent("after the cancel");
	migrate_clean("then a migration");
	hr_consistent("after it");
	report(ids_unique(), "FB-V13: %u request ids, non-zero, never reused across both migrations", bal.id_n);
}

/* ---- fault=kill-dest ---- */

static void tick_kill(struct mctl *c)
{
	u64 after = arg_u64("kill_ms", 500) * 1000000ull;

	if (!c->fired && c->first_req_ns && c->now - c->first_req_ns > after) {
		c->fired = true;
		if (hostcall(rbuf, sizeof(rbuf), 10000, "migrate-kill-dest"))
			report_info("migrate-kill-dest: %s", rbuf);
	}
}

static void fault_kill_dest(void)
{
	bool ok;
	struct mctl c;
	char o[64], w[32];

	snprintf(o, sizeof(o), "speed=%llu", (unsigned long long)arg_u64("fault_speed", 32ull << 20));
	mctl_init(&c, o);
	c.tick = tick_kill;
	ok = migrate(&c);
	report(ok && !strcmp(c.status, "failed") && c.fired,
	       "destination QEMU killed mid-migration (%llu FREE_PAGES answered): status %s", (unsigned long long)c.answers,
	       c.status);
	where(w, sizeof(w));
	ok = qmp(rbuf, sizeof(rbuf), "{\"execute\":\"query-status\"}") == 0;
	report(!strcmp(w, "src") && ok && strstr(rbuf, "\"running\":true"), "the source resumed: the guest runs on %s (%.60s)", w, rbuf);
	data_verify("the destination's death");
	hr_consistent("after the failed migration");
	migrate_clean("then a migration");
	hr_consistent("after it");
	report(ids_unique(), "FB-V13: %u request ids, non-zero, never reused", bal.id_n);
}

/* ---- fault=target ---- */

static u64 tgt_pages;

static void tick_target(struct mctl *c)
{
	struct balloon *b = &bal;

	if (!c->fired && c->answers) {
		c->fired = true;
		qmp_set_target_pages(tgt_pages);
	}
	if (c->fired && !c->fired2 && b->nr_pages == tgt_pages && c->answers >= 2) {
		c->fired2 = true;
		qmp_set_target_pages(0);
	}
	if (b->vd.config_changes != b->cfg_changes_seen || balloon_num_pages(b) != b->nr_pages)
		balloon_follow(b);
}

static void fault_target(void)
{
	bool ok;
	struct balloon *b = &bal;
	struct fast_stats fs;
	struct mctl c;
	char o[64];
	u64 actual = ~0ull;

	tgt_pages = MIB_PAGES(arg_u64("target_mib", 64));
	snprintf(o, sizeof(o), "speed=%llu", (unsigned long long)arg_u64("fault_speed", 32ull << 20));
	mctl_init(&c, o);
	c.tick = tick_target;
	ok = migrate(&c);
	report(ok && !strcmp(c.status, "completed") && c.fired,
	       "target changed to %llu pages %s during the migration (%llu FREE_PAGES answers): status %s",
	       (unsigned long long)tgt_pages, c.fired2 ? "and back to 0" : "(not back to 0 before the end)",
	       (unsigned long long)c.answers, c.status);
	report(c.fired2, "the deflate came during the migration too");
	/* whatever is left is followed on the destination */
	wait_num_pages(b, 0, 10000);
	balloon_follow(b);
	report(b->nr_pages == 0 && b->pages_inflated >= tgt_pages && b->pages_deflated == b->pages_inflated,
	       "inflated %llu and deflated %llu pages, none left in the balloon", (unsigned long long)b->pages_inflated,
	       (unsigned long long)b->pages_deflated);
	ok = qmp_actual_pages(&actual);
	report(ok && actual == 0, "query-balloon on the destination: %llu pages in the balloon",
	       (unsigned long long)actual);
	data_verify("target changes during the migration");
	ok = fast_stats_read(&fs);
	report(ok && fs.bad == 0, "destination fast-stats: no bad record (%llu)",
	       (unsigned long long)fs.bad);
	hr_consistent("after the migration");
}

/* ---- fault=postcopy ---- */

static void tick_postcopy(struct mctl *c)
{
	if (!c->fired && c->now - c->t0 > arg_u64("postcopy_ms", 1500) * 1000000ull) {
		c->fired = true;
		if (hostcall(rbuf, sizeof(rbuf), 10000, "migrate-postcopy"))
			report_info("migrate-postcopy: %s", rbuf);
	}
}

static void fault_postcopy(void)
{
	bool ok;
	struct balloon *b = &bal;
	struct mctl c;
	char o[96];
	const char *sb;
	u64 reqs0 = b->hs.requests;

	snprintf(o, sizeof(o), "caps=postcopy-ram speed=%llu", (unsigned long long)arg_u64("fault_speed", 32ull << 20));
	mctl_init(&c, o);
	c.tick = tick_postcopy;
	ok = migrate(&c);
	report(ok && !strcmp(c.status, "completed") && c.fired,
	       "postcopy-ram: migrate-start-postcopy after %llu ms, status %s", (unsigned long long)arg_u64("postcopy_ms", 1500),
	       c.status);
	sb = strstr(c.final, "\"source-balloon\"");
	report(sb && jget(sb, "postcopy-skips") >= 1 && jget(sb, "rounds") == 0 && b->hs.requests == reqs0,
	       "hints skipped: the source device sent no FREE_PAGES (rounds %llu, postcopy-skips %llu, requests seen %llu)",
	       sb ? (unsigned long long)jget(sb, "rounds") : 0ull, sb ? (unsigned long long)jget(sb, "postcopy-skips") : 0ull,
	       (unsigned long long)(b->hs.requests - reqs0));
	data_verify("postcopy");
	hr_consistent("after postcopy");
	/* the destination's balloon works after postcopy */
	report(balloon_inflate(b, MIB_PAGES(8)) == MIB_PAGES(8) && balloon_deflate(b, MIB_PAGES(8)) == MIB_PAGES(8),
	       "inflate and deflate 8 MiB on the destination after postcopy");
	data_verify("postcopy and a balloon cycle");
}

/* ---- fault=reset ---- */

static u64 reset_drop(u32 kind, void *ctx)
{
	(void)kind;
	(void)ctx;
	return ds_free(&cache);
}

static char r_ids[128];

/* the largest request id the driver saw (boot 1 gives it to boot 2 through the agent) */
static u64 max_id(void)
{
	u64 m = 0;

	for (u32 i = 0; i < bal.id_n; i++)
		m = MAX(m, bal.id_log[i]);
	return m;
}

static void fault_reset_boot1(void)
{
	struct balloon *b = &bal;
	u64 t0, n;

	hostcall(rbuf, sizeof(rbuf), 2000, "kv-set reset-data %llu %llu %llu %016llx", (unsigned long long)live.runs[0].pfn,
		 (unsigned long long)live.pages, (unsigned long long)live.seed, (unsigned long long)live_sum);
	/* a FREE_PAGES round: the driver answers without DONE (fp_hold), then stops serving */
	b->fp_hold = true;
	if (hostcall(rbuf, sizeof(rbuf), 60000, "migrate-start speed=16777216")) {
		report(false, "boot 1: migrate-start (%s)", rbuf);
		return;
	}
	t0 = now_ns();
	while (b->hs.requests == 0 && now_ns() - t0 < 20000000000ull) {
		balloon_host_poll(b);
		irq_sleep_us(500);
	}
	/* a DROP_CACHE the driver never takes */
	report(qmp(rbuf, sizeof(rbuf), "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"" QOM_PATH
		   "\",\"property\":\"drop-cache\",\"value\":3}}") == 0, "boot 1: drop-cache 3 sent, left unanswered");
	/* inflate requests given to the device, their acks not taken */
	n = balloon_inflate_nowait(b, MIB_PAGES(16));
	mdelay(20);
	hr_stats(rbuf, sizeof(rbuf));
	report(b->hs.requests >= 1 && jget(rbuf, "outstanding") >= 2 && n > 0,
	       "boot 1: outstanding at the reset: FREE_PAGES answered without DONE, a DROP_CACHE (device outstanding %llu), %llu pages inflating",
	       (unsigned long long)jget(rbuf, "outstanding"), (unsigned long long)n);
	hostcall(r_ids, sizeof(r_ids), 2000, "kv-set reset-ids %llu %llu", (unsigned long long)max_id(),
		 (unsigned long long)jget(rbuf, "requests"));
	report_info("boot 1: system_reset now");
	hostcall(rbuf, sizeof(rbuf), 1000, "system-reset");
	/* not reached: the reset reboots the guest */
	mdelay(5000);
	report(false, "boot 1: system_reset did not reset the guest (%s)", rbuf);
}

static u64 parse_u64(const char **pp, int base)
{
	const char *p = *pp;
	u64 v = 0;

	while (*p == ' ')
		p++;
	for (;; p++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0' : base == 16 && *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;

		if (d < 0)
			break;
		v = v * (u64)base + (u64)d;
	}
	*pp = p;
	return v;
}

/* boot 2: boot 1's data where it was (QEMU keeps RAM over system_reset), before anything is allocated */
static void reset_boot2_data(const char *note)
{
	const char *p = note;
	u64 pfn = parse_u64(&p, 10), pages = parse_u64(&p, 10), seed = parse_u64(&p, 10), sum = parse_u64(&p, 16);
	bool owned = pages > 0;

	for (u64 q = pfn; q < pfn + pages; q++)
		owned = owned && pool_page_is_free(&guest_pool, q);
	if (owned)
		pool_reserve_range(&guest_pool, pfn, pages);
	live.runs[0].pfn = pfn;
	live.runs[0].n = pages;
	live.nruns = owned ? 1 : 0;
	live.pages = owned ? pages : 0;
	live.seed = seed;
	live_sum = sum;
	report(owned, "boot 2: boot 1's data pages [0x%llx, +%llu) are free memory of this boot, untouched by the firmware's allocations",
	       (unsigned long long)pfn, (unsigned long long)pages);
	if (owned && !data_verify("system_reset (boot 1's data, read in boot 2 before the driver starts)"))
		report_info("of its bad pages %llu read all zero (discarded)", (unsigned long long)fpat_zero_pages(pfn, pages));
}

static void fault_reset_boot2(void)
{
	bool ok;
	struct balloon *b = &bal;
	char r[128];
	const char *p = r;
	u64 last_id, reqs_before, t0, pf = 0;
	struct fast_stats fs;

	if (hostcall(r, sizeof(r), 2000, "kv-get reset-ids"))
		r[0] = 0;
	last_id = parse_u64(&p, 10);
	reqs_before = parse_u64(&p, 10);
	hr_stats(rbuf, sizeof(rbuf));
	report(jget(rbuf, "outstanding") == 0 && jget(rbuf, "queued") == 0 && jget(rbuf, "requests") == reqs_before &&
	       reqs_before >= 2,
	       "boot 2: the device forgot boot 1's requests (outstanding %llu, queued %llu; requests %llu = %llu at the reset)",
	       (unsigned long long)jget(rbuf, "outstanding"), (unsigned long long)jget(rbuf, "queued"),
	       (unsigned long long)jget(rbuf, "requests"), (unsigned long long)reqs_before);
	qmp(rbuf, sizeof(rbuf), "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"" QOM_PATH "\",\"property\":\"drop-cache-result\"}}");
	report(strstr(rbuf, "\"state\":\"cancelled\"") != NULL, "boot 2: boot 1's drop-cache reads cancelled: %.160s", rbuf);
	/* a new drop-cache: a fresh id past boot 1's, answered */
	b->drop_cache = reset_drop;
	ds_alloc(&cache, MIB_PAGES(8));
	report(qmp(rbuf, sizeof(rbuf), "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"" QOM_PATH
		   "\",\"property\":\"drop-cache\",\"value\":1}}") == 0, "boot 2: drop-cache accepted");
	t0 = now_ns();
	while (now_ns() - t0 < 10000000000ull) {
		balloon_service(b);
		qmp(rbuf, sizeof(rbuf), "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"" QOM_PATH "\",\"property\":\"drop-cache-result\"}}");
		if (strstr(rbuf, "\"state\":\"done\""))
			break;
		mdelay(10);
	}
	json_get_u64(rbuf, "pages-freed", &pf);
	report(strstr(rbuf, "\"state\":\"done\"") && pf == MIB_PAGES(8) && b->id_n && b->id_log[0] > last_id,
	       "boot 2: drop-cache done, %llu pages freed, id %llu past boot 1's last %llu (FB-V13)",
	       (unsigned long long)pf, (unsigned long long)(b->id_n ? b->id_log[0] : 0), (unsigned long long)last_id);
	report(balloon_inflate(b, MIB_PAGES(16)) == MIB_PAGES(16) && balloon_deflate(b, MIB_PAGES(16)) == MIB_PAGES(16),
	       "boot 2: inflate and deflate 16 MiB");
	ok = fast_stats_read(&fs);
	report(ok && fs.bad == 0, "boot 2: fast-stats: no bad record (%llu)", (unsigned long long)fs.bad);
	migrate_clean("boot 2");
	hr_consistent("boot 2 after the migration");
	report(ids_unique() && b->id_log[0] > last_id, "FB-V13: %u request ids in boot 2, all past boot 1's, never reused",
	       b->id_n);
}

/* ---- fault=drop-cache ---- */

static u64 dc_drop(u32 kind, void *ctx)
{
	(void)ctx;
	return (kind & 1) ? ds_free(&cache) : 0;
}

static int dc_set(const char *value)
{
	return qmp(rbuf, sizeof(rbuf), "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"" QOM_PATH
		   "\",\"property\":\"drop-cache\",\"value\":%s}}", value);
}

static bool dc_wait_done(void)
{
	u64 t0 = now_ns();

	while (now_ns() - t0 < 10000000000ull) {
		balloon_service(&bal);
		if (qmp(rbuf, sizeof(rbuf), "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"" QOM_PATH
			"\",\"property\":\"drop-cache-result\"}}"))
			return false;
		if (strstr(rbuf, "\"state\":\"done\""))
			return true;
		mdelay(10);
	}
	return false;
}

static void fault_drop_cache(void)
{
	struct balloon *b = &bal;
	static const char *const bad[] = { "0", "4", "18446744073709551615", "-1", "\"3\"", "1.5", "null", "{}" };
	u64 reqs0, n;
	char before[512];
	bool ok, hr = virtio_has(&b->vd, FB_F_HOST_REQ);

	b->drop_cache = dc_drop;
	ds_alloc(&cache, MIB_PAGES(8));
	hr_stats(rbuf, sizeof(rbuf));
	reqs0 = jget(rbuf, "requests");
	qmp(before, sizeof(before), "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"" QOM_PATH "\",\"property\":\"drop-cache-result\"}}");
	n = 0;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		n += dc_set(bad[i]) == -1;
	hr_stats(rbuf, sizeof(rbuf));
	report(n == ARRAY_SIZE(bad) && jget(rbuf, "requests") == reqs0,
	       "%llu of %zu bad drop-cache values refused with an error, no request sent (requests %llu)",
	       (unsigned long long)n, ARRAY_SIZE(bad), (unsigned long long)jget(rbuf, "requests"));
	if (!hr) {
		ok = dc_set("3") == -1 && strstr(rbuf, "host-req");
		report(ok, "driver without HOST_REQ: drop-cache 3 refused (%.100s)", rbuf);
		service_for(100);
		report(cache.pages == MIB_PAGES(8), "driver without HOST_REQ: nothing was dropped");
		data_verify("drop-cache without HOST_REQ");
		return;
	}
	/* twice in a row: the second waits for the first */
	report(dc_set("2") == 0, "drop-cache 2 accepted");
	ok = dc_set("1") == -1 && strstr(rbuf, "pending");
	report(ok, "drop-cache 1 right after it refused while 2 is pending (%.100s)", rbuf);
	ok = dc_wait_done();
	report(ok && cache.pages == MIB_PAGES(8), "the first (kind 2) done, nothing of the page cache dropped");
	ok = dc_set("1") == 0 && dc_wait_done();
	report(ok && cache.pages == 0, "drop-cache 1 once the first was done: done, the 8 MiB page cache dropped");
	ok = dc_set("3") == 0 && dc_set("3") == -1;
	report(ok && dc_wait_done(), "drop-cache 3 twice: the second refused, the first done");
	hr_consistent("after the drop-cache requests");
	report(b->drop_reqs == 3 && ids_unique(), "the driver answered 3 DROP_CACHE requests with unique ids (%llu)",
	       (unsigned long long)b->drop_reqs);
	(void)before;
	data_verify("the drop-cache requests");
}

/* ---- fault=overinflate ---- */

static void fault_overinflate(void)
{
	bool ok;
	struct balloon *b = &bal;
	struct fast_stats fs0, fs;
	u64 free0 = pool_free_pages(&guest_pool), ram = ram_bytes() >> PAGE_SHIFT, actual = 0, want;
	bool st0 = fast_stats_read(&fs0);

	/* all of RAM but 1 MiB: more than the guest has free */
	want = ram - MIB_PAGES(1);
	report(qmp_set_target_pages(want), "target %llu pages: more than the %llu free (RAM %llu pages)",
	       (unsigned long long)want, (unsigned long long)free0, (unsigned long long)ram);
	wait_num_pages(b, (u32)want, 5000);
	balloon_follow(b);	/* wants more than there is: takes what there is */
	service_for(200);
	report(b->nr_pages < want && b->nr_pages == free0 && pool_free_pages(&guest_pool) == 0,
	       "the guest gave all it had: %llu pages in the balloon of %llu asked, %llu free left",
	       (unsigned long long)b->nr_pages, (unsigned long long)want, (unsigned long long)pool_free_pages(&guest_pool));
	ok = qmp_actual_pages(&actual);
	report(ok && actual == b->nr_pages, "query-balloon says %llu pages (driver: %llu)",
	       (unsigned long long)actual, (unsigned long long)b->nr_pages);
	data_verify("inflating beyond free memory");
	report(qmp_set_target_pages(0) && wait_num_pages(b, 0, 5000), "target back to 0");
	balloon_follow(b);
	report(b->nr_pages == 0 && pool_free_pages(&guest_pool) == free0, "deflated: every page back (%llu free, %llu before)",
	       (unsigned long long)pool_free_pages(&guest_pool), (unsigned long long)free0);
	ok = fast_stats_read(&fs);
	report(st0 && ok && fs.bad == fs0.bad && fs.inflated - fs0.inflated == b->pages_inflated &&
	       fs.deflated - fs0.deflated == b->pages_deflated,
	       "fast-stats: %llu pages inflated and %llu deflated as the driver counts, no bad record",
	       (unsigned long long)(fs.inflated - fs0.inflated), (unsigned long long)(fs.deflated - fs0.deflated));
	data_verify("inflating beyond free memory and deflating");
}

/* ---- fault=hotplug ---- */

#define SLTCTL 0x18
#define SLTSTA 0x1a
#define SLTCTL_PIC_ON 0x100
#define SLTCTL_PIC_OFF 0x300
#define SLTCTL_PCC_OFF 0x400

/* the PCIe port above the balloon (its secondary bus), and its PCIe capability */
static struct pci_dev *port_of(struct pci_dev *d, u8 *cap)
{
	for (int i = 0; i < pci_count(); i++) {
		struct pci_dev *p = pci_get(i);

		if ((p->header_type & 0x7f) == 1 && pci_read8(p, PCI_SECONDARY_BUS) == d->bus) {
			*cap = pci_find_cap(p, PCI_CAP_ID_EXP, 0);
			return *cap ? p : NULL;
		}
	}
	return NULL;
}

static bool wait_vendor(struct pci_dev *d, bool present, u64 ms)
{
	u64 t0 = now_ns();

	while (now_ns() - t0 < ms * 1000000ull) {
		if ((pci_read16(d, PCI_VENDOR_ID) != 0xffff) == present)
			return true;
		mdelay(5);
	}
	return false;
}

/*
 * device_del while inflated: QEMU presses the slot's attention button
 * (native PCIe hot-plug, ACPI hot-plug off); the guest answers as pciehp
 * does, power and indicator off, and QEMU unplugs. The guest takes back the
 * pages the gone device held (as Linux's virtballoon_remove does), then
 * device_add of a new balloon in the same slot: power on, the BARs where the
 * firmware had put the first one's (same device, same sizes), a new driver.
 */
static void fault_hotplug(void)
{
	struct balloon *b = &bal;
	struct pci_dev *d = b->vd.pci, *port;
	struct balloon_opts o = b->o;
	struct fast_stats fs;
	u64 n = MIB_PAGES(arg_u64("inflate_mib", 64)), t0, back = 0, freed0;
	u16 sta;
	u8 cap;
	bool ok;
	int r;

	port = port_of(d, &cap);
	if (!port) {
		report(false, "the balloon sits behind a PCIe port (qemu: bus=rp1)");
		return;
	}
	ok = balloon_inflate(b, n) == n;
	report(ok, "inflated %llu MiB before device_del", (unsigned long long)(n >> 8));
	freed0 = pool_free_pages(&guest_pool);
	report(qmp(rbuf, sizeof(rbuf), "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"balloon0\"}}") == 0,
	       "device_del balloon0 accepted");
	t0 = now_ns();
	do {
		sta = pci_read16(port, cap + SLTSTA);
		if (sta & 1)
			break;
		mdelay(5);
	} while (now_ns() - t0 < 5000000000ull);
	report(sta & 1, "the port's attention button was pressed (slot status 0x%x)", sta);
	pci_write16(port, cap + SLTSTA, sta);	/* clear the events */
	pci_write16(port, cap + SLTCTL, (pci_read16(port, cap + SLTCTL) & ~0x700) | SLTCTL_PCC_OFF | SLTCTL_PIC_OFF);
	ok = wait_vendor(d, false, 5000);
	report(ok, "slot powered off: the balloon is gone (vendor id reads 0xffff)");
	/* its pages are the guest's again: the device that held them is gone */
	for (u64 p = 0; p < guest_pool.max_pfn; p++)
		if (balloon_page_in(b, p)) {
			pool_free_range(&guest_pool, p, 1);
			back++;
		}
	report(back == n && pool_free_pages(&guest_pool) == freed0 + n, "the guest took back the %llu pages the gone device held",
	       (unsigned long long)back);
	data_verify("device_del while inflated");
	r = qmp(rbuf, sizeof(rbuf), "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-balloon-pci\","
		"\"id\":\"balloon0\",\"bus\":\"%s\",\"page-bitmap\":true,\"page-ranges\":true,\"host-req\":true,"
		"\"free-page-bitmap\":true}}", arg_get("port") ? arg_get("port") : "rp1");
	report(r == 0, "device_add of a new balloon0 accepted (%.100s)", rbuf);
	t0 = now_ns();
	while (!(pci_read16(port, cap + SLTSTA) & 0x40) && now_ns() - t0 < 5000000000ull)	/* presence detect state */
		mdelay(5);
	pci_write16(port, cap + SLTSTA, pci_read16(port, cap + SLTSTA));
	pci_write16(port, cap + SLTCTL, (pci_read16(port, cap + SLTCTL) & ~0x700) | SLTCTL_PIC_ON);
	ok = wait_vendor(d, true, 5000);
	report(ok, "slot powered on: a device answers at %02x:%02x.%x", d->bus, d->dev, d->fn);
	if (!ok)
		return;
	/* the BARs where the firmware had put the first device's (same sizes); pci_enable comes with the probe */
	pci_write16(d, PCI_COMMAND, 0);
	for (int i = 0; i < 6; i++) {
		u16 off = PCI_BAR0 + 4 * i;
		u32 lo = pci_read32(d, off);

		if (!d->bar_size[i])
			continue;
		pci_write32(d, off, (u32)d->bar[i] | (lo & (d->bar_io[i] ? 3 : 0xf)));
		if (!d->bar_io[i] && ((lo >> 1) & 3) == 2 && i < 5)
			pci_write32(d, off + 4, (u32)(d->bar[i] >> 32)), i++;
	}
	r = balloon_init(b, &o);
	report(r == 0, "a new driver on the new device (error %d, negotiated 0x%llx)", r, (unsigned long long)b->vd.features);
	if (r)
		return;
	ok = balloon_inflate(b, n) == n && balloon_deflate(b, n) == n;
	report(ok, "inflate and deflate %llu MiB on the new device", (unsigned long long)(n >> 8));
	ok = fast_stats_read(&fs);
	report(ok && fs.inflated == n && fs.deflated == n && fs.bad == 0,
	       "the new device's fast-stats start from zero: %llu inflated, %llu deflated, %llu bad records",
	       (unsigned long long)fs.inflated, (unsigned long long)fs.deflated, (unsigned long long)fs.bad);
	data_verify("device_del while inflated and device_add");
	hr_consistent("the new device");
}

/* ---- the test ---- */

static const struct {
	const char *name;
	void (*fn)(void);
} faults[] = {
	{ "cancel", fault_cancel }, { "kill-dest", fault_kill_dest }, { "target", fault_target },
	{ "postcopy", fault_postcopy }, { "reset", fault_reset_boot1 }, { "drop-cache", fault_drop_cache },
	{ "overinflate", fault_overinflate }, { "hotplug", fault_hotplug },
};

static void faults_test(void)
{
	const char *f = arg_get("fault") ? arg_get("fault") : "";
	u64 live_mib = arg_u64("live_mib", 64);
	void (*fn)(void) = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(faults); i++)
		if (!strcmp(f, faults[i].name))
			fn = faults[i].fn;
	if (!fn)
		panic("fault=%s: unknown", f);
	if (!hostcall_available()) {
		report_skip("no host agent: cannot inject faults");
		return;
	}
	live.seed = 0xf417;
	written.seed = 0x3717;
	cache.seed = 0xcac4e;
	if (!strcmp(f, "reset") && hostcall(rbuf, sizeof(rbuf), 2000, "kv-get reset-data") == 0) {
		/* the second boot after system_reset: boot 1's data first, then the driver */
		char note[128];

		snprintf(note, sizeof(note), "%s", rbuf);
		reset_boot2_data(note);
		if (bt_init(&bal))
			fault_reset_boot2();
		return;
	}
	if (!bt_init(&bal))
		return;
	if (!strcmp(f, "reset")) {
		/*
		 * One run in the middle of the largest free range, where boot 2
		 * finds it again: the firmware's allocations sit at both ends
		 * of low RAM (PEI at 8 MiB, DXE top-down from the top).
		 */
		u64 base, n = MIB_PAGES(live_mib), best = 0, best_n = 0, run = 0;

		for (u64 q = 0; q <= guest_pool.max_pfn; q++) {
			if (q < guest_pool.max_pfn && pool_page_is_free(&guest_pool, q)) {
				run++;
				continue;
			}
			if (run > best_n)
				best = q - run, best_n = run;
			run = 0;
		}
		if (best_n < n)
			panic("no %llu MiB run", (unsigned long long)live_mib);
		base = (best + (best_n - n) / 2) & ~511ull;
		if (base < best)
			base += 512;
		pool_reserve_range(&guest_pool, base, n);
		live.runs[0].pfn = base;
		live.runs[0].n = n;
		live.nruns = 1;
		live.pages = n;
		fpat_fill(base, n, live.seed);
	} else if (ds_alloc(&live, MIB_PAGES(live_mib)) != MIB_PAGES(live_mib)) {
		panic("live data: out of memory");
	}
	live_sum = ds_sum(&live);
	write_max = MIB_PAGES(arg_u64("write_mib", 4));
	report_info("fault %s: %llu MiB of data in %llu runs, checksum %016llx; balloon %s", f,
		    (unsigned long long)live_mib, (unsigned long long)live.nruns, (unsigned long long)live_sum,
		    balloon_proto_name(&bal));
	fn();
}
GUEST_TEST("faults", faults_test, "faults during ballooning and migration (fault=NAME): data checksummed, verified after");
