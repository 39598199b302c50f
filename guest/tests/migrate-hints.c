/*
 * Live migration with free-page hints (issue 7; docs/bench-guest-modes.md):
 * the guest keeps a checksummed live data set and a reclaimable cache
 * ("page cache" and "slab"), writes most of its memory and frees it again,
 * migrates itself through the host agent while answering the device's
 * requests, and verifies everything on the destination.
 *
 *   hints=none    no hints (HOST_REQ and FREE_PAGE_HINT declined)
 *   hints=fph     upstream FREE_PAGE_HINT (virtio 1.2 5.5.6.x; stock QEMU with
 *                 free-page-hint=on,iothread=..)
 *   hints=bitmap  the fastballoon free-page bitmap (HOST_REQ FREE_PAGES; the
 *                 patched QEMU with host-req=on,free-page-bitmap=on)
 *
 * test=bench-migrate and test=migrate-hints are the same code: the first is
 * the benchmark's (one BENCH line per migration), the second the tests'
 * (every check reported). Arguments: see docs/bench-guest-modes.md.
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
#include "virtio/balloon/balloon.h"
#include "guest/tests/balloon-util.h"
#include "guest/tests/fast-util.h"
#include "guest/tests/mig-util.h"

#define QOM_PATH "/machine/peripheral/balloon0/virtio-backend"
#define MIB_PAGES(m) ((u64)(m) << (20 - PAGE_SHIFT))

static struct balloon bal;
static bool bench_mode;

/* ---- sets of pages: runs taken from the pool ---- */

struct pset {
	const char *name;
	struct fb_run *runs;
	u64 nruns, cap, pages, seed;
};

static bool pset_take(u64 pfn, u64 n, void *ctx)
{
	struct pset *s = ctx;

	s->runs[s->nruns].pfn = pfn;
	s->runs[s->nruns].n = n;
	s->nruns++;
	s->pages += n;
	return s->nruns < s->cap;
}

static void pset_init(struct pset *s, const char *name, u64 cap, u64 seed)
{
	s->name = name;
	s->cap = cap;
	s->runs = pages_alloc((cap * sizeof(struct fb_run) + PAGE_SIZE - 1) / PAGE_SIZE);
	if (!s->runs)
		panic("no memory for the run list of %s", name);
	s->nruns = s->pages = 0;
	s->seed = seed;
}

/* take n pages from the pool (lowest first) */
static u64 pset_alloc(struct pset *s, u64 n)
{
	u64 before = s->pages;

	while (s->pages - before < n && s->nruns < s->cap)
		if (!pool_alloc_bulk(&guest_pool, n - (s->pages - before), pset_take, s))
			break;
	return s->pages - before;
}

static void pset_fill_from(struct pset *s, u64 first_run)
{
	for (u64 i = first_run; i < s->nruns; i++)
		fpat_fill(s->runs[i].pfn, s->runs[i].n, s->seed);
}

static void pset_fill(struct pset *s)
{
	pset_fill_from(s, 0);
}

static u64 pset_bad(struct pset *s)
{
	u64 bad = 0;

	for (u64 i = 0; i < s->nruns; i++)
		bad += fpat_bad(s->runs[i].pfn, s->runs[i].n, s->seed);
	return bad;
}

static u64 pset_free(struct pset *s)
{
	u64 n = s->pages;

	for (u64 i = 0; i < s->nruns; i++)
		pool_free_range(&guest_pool, s->runs[i].pfn, s->runs[i].n);
	s->nruns = s->pages = 0;
	return n;
}

/* ---- the cache: "page cache" (drop kind 1) and "slab" (kind 2), reproducible content ---- */

static struct pset cache_pc, cache_slab, live, work, hinted_w;
static u64 cache_mib, slab_mib, cache_builds;

static void cache_build(void)
{
	u64 t = MIB_PAGES(cache_mib) - cache_pc.pages, u = MIB_PAGES(slab_mib) - cache_slab.pages;

	if (t && pset_alloc(&cache_pc, t) != t)
		panic("cache: out of memory");
	if (u && pset_alloc(&cache_slab, u) != u)
		panic("slab: out of memory");
	pset_fill(&cache_pc);
	pset_fill(&cache_slab);
	cache_builds++;
}

static u64 cache_drop(u32 kind, void *ctx)
{
	u64 freed = 0;

	(void)ctx;
	if (kind & 1)
		freed += pset_free(&cache_pc);
	if (kind & 2)
		freed += pset_free(&cache_slab);
	return freed;
}

/* ---- host side ---- */

/* ---- one migration ---- */

struct mig {
	const char *hints;
	bool bitmap, fph, checks;
	u64 write_hinted;	/* pages to take from the pool and write, a share after each answer */
	u64 wh_base;		/* hinted_w's pages when this migration started */
	u64 hinted_pages;	/* device hinted-pages (bitmap) seen during this migration */
	u64 hinted_base;
	char final[2048];
	char status[32];
	u64 guest_ms;
	u64 free_before, free_min;	/* pool free pages at the start, lowest during the migration */
};

static u64 hint_events(struct balloon *b)
{
	return b->hs.done + b->hs.cut_short + b->fs.done;
}

static void service_idle(void)
{
	balloon_service(&bal);
}

/*
 * Start a migration, answer requests while polling its status, and return
 * once it ended (completed: we run on the destination now). cancel_ms > 0:
 * migrate-cancel that long after the first hints (or the start).
 */
static bool migrate(struct mig *m, const char *opts, u64 cancel_ms, u64 timeout_s)
{
	struct balloon *b = &bal;
	u64 t0 = now_ns(), end = t0 + timeout_s * 1000000000ull, next_poll = 0, ev0 = hint_events(b);
	u64 first_hint_ns = 0;
	bool cancelled = false;
	char r[2048];

	m->wh_base = hinted_w.pages;
	m->free_before = m->free_min = pool_free_pages(&guest_pool);
	if (m->bitmap && hr_stats(r, sizeof(r)))
		m->hinted_base = jget(r, "hinted-pages");
	m->hinted_pages = 0;
	/*
	 * The first round's request comes while the agent is still inside
	 * migrate-start; until answered, the host sends the pages it would
	 * skip. So answer it, and later ones, while any call waits.
	 */
	hostcall_set_idle(service_idle);
	if (hostcall(r, sizeof(r), 60000, "migrate-start %s", opts)) {
		hostcall_set_idle(NULL);
		snprintf(m->final, sizeof(m->final), "migrate-start: %s", r);
		return false;
	}
	for (;;) {
		u64 now = now_ns();

		balloon_service(b);
		if (pool_free_pages(&guest_pool) < m->free_min)
			m->free_min = pool_free_pages(&guest_pool);
		if (hint_events(b) != ev0) {
			ev0 = hint_events(b);
			if (!first_hint_ns)
				first_hint_ns = now;
			/* the device has our answer: its count is current (the source's stats end with it) */
			if (m->bitmap && !m->hinted_pages && hr_stats(r, sizeof(r)) &&
			    jget(r, "hinted-pages") >= m->hinted_base)
				m->hinted_pages = jget(r, "hinted-pages") - m->hinted_base;
			if (hinted_w.pages - m->wh_base < m->write_hinted) {
				/*
				 * Pages just named as free (the answer copied the
				 * pool's free bitmap): take a share of them and write
				 * them at once, while the round runs, so every round
				 * has pages named and then reused (FB-D11). On KVM
				 * with lazy dirty-log clearing these writes are what
				 * a device that does not arm first would lose.
				 */
				u64 first = hinted_w.nruns, left = m->write_hinted - (hinted_w.pages - m->wh_base);
				u64 step = m->write_hinted / 4 > 256 ? m->write_hinted / 4 : 256;

				pset_alloc(&hinted_w, left < step ? left : step);
				pset_fill_from(&hinted_w, first);
			}
		}
		if (cancel_ms && !cancelled && now - (first_hint_ns ? first_hint_ns : t0) > cancel_ms * 1000000ull) {
			if (hostcall(r, sizeof(r), 10000, "migrate-cancel"))
				report_info("migrate-cancel: %s", r);
			cancelled = true;
		}
		if (now >= next_poll) {
			next_poll = now + 20000000ull;
			if (hostcall(r, sizeof(r), 2000, "migrate-status") == 0) {
				mig_status(r, m->status, sizeof(m->status));
				if (!strcmp(m->status, "completed") || !strcmp(m->status, "failed") ||
				    !strcmp(m->status, "cancelled")) {
					snprintf(m->final, sizeof(m->final), "%s", r);
					break;
				}
			}
		}
		if (now >= end) {
			snprintf(m->final, sizeof(m->final), "no end within %llu s", (unsigned long long)timeout_s);
			hostcall(r, sizeof(r), 10000, "migrate-cancel");
			hostcall_set_idle(NULL);
			return false;
		}
		/* halt, not spin: a busy vCPU takes a core from the migration here */
		irq_sleep_us(200);
	}
	hostcall_set_idle(NULL);
	m->guest_ms = (now_ns() - t0) / 1000000;
	/* on the destination a CANCEL may wait in a buffer: answer it */
	for (int i = 0; i < 20; i++) {
		balloon_service(b);
		mdelay(5);
	}
	return true;
}

/* pages of the workload set that are free now and read zero (never sent: skipped) or not */
static void work_scan(u64 *zero, u64 *kept)
{
	*zero = *kept = 0;
	for (u64 i = 0; i < work.nruns; i++)
		for (u64 p = work.runs[i].pfn; p < work.runs[i].pfn + work.runs[i].n; p++) {
			u64 v;

			if (!pool_page_is_free(&guest_pool, p))
				continue;
			v = *(volatile u64 *)phys_to_virt(p << PAGE_SHIFT);
			if (!v)
				(*zero)++;
			else if (v == (p * 0x9e3779b97f4a7c15ull | 1))
				(*kept)++;
		}
}

static void workload(u64 reserve_pages, bool full)
{
	u64 avail = pool_free_pages(&guest_pool), n = avail > reserve_pages ? avail - reserve_pages : 0;

	if (!work.pages)	/* layout=high took it already */
		pset_alloc(&work, n);
	for (u64 i = 0; i < work.nruns; i++)
		for (u64 p = work.runs[i].pfn; p < work.runs[i].pfn + work.runs[i].n; p++) {
			u64 *w = phys_to_virt(p << PAGE_SHIFT), v = p * 0x9e3779b97f4a7c15ull | 1;

			if (full)
				for (u64 k = 0; k < PAGE_SIZE / 8; k++)
					w[k] = v;
			else
				w[0] = v;
		}
	/* free it again, but remember where it was */
	for (u64 i = 0; i < work.nruns; i++)
		pool_free_range(&guest_pool, work.runs[i].pfn, work.runs[i].n);
}

/* free pages holding data before a migration (word 0 non-zero): those reading zero afterwards were not sent */
static u64 *nz_before;

static u64 nz_scan(void)
{
	u64 words = (guest_pool.max_pfn + 63) / 64, n = 0;

	if (!nz_before)
		nz_before = pages_alloc((words * 8 + PAGE_SIZE - 1) / PAGE_SIZE);
	if (!nz_before)
		panic("no memory for the pre-migration scan");
	memset(nz_before, 0, words * 8);
	for (u64 p = 0; p < guest_pool.max_pfn; p++)
		if (pool_page_is_free(&guest_pool, p) && *(volatile u64 *)phys_to_virt(p << PAGE_SHIFT)) {
			nz_before[p / 64] |= 1ull << (p & 63);
			n++;
		}
	return n;
}

static u64 nz_lost(void)
{
	u64 n = 0;

	for (u64 p = 0; p < guest_pool.max_pfn; p++)
		if ((nz_before[p / 64] >> (p & 63)) & 1 && pool_page_is_free(&guest_pool, p) &&
		    !*(volatile u64 *)phys_to_virt(p << PAGE_SHIFT))
			n++;
	return n;
}

static bool ids_unique(const u64 *ids, u32 n)
{
	for (u32 i = 0; i < n; i++) {
		if (!ids[i])
			return false;
		for (u32 j = 0; j < i; j++)
			if (ids[i] == ids[j])
				return false;
	}
	return true;
}

static void migrate_hints(void)
{
	struct balloon *b = &bal;
	struct balloon_opts o;
	struct mig m = { 0 };
	const char *hints = arg_get("hints") ? arg_get("hints") : "none";
	bool bench = arg_bool("bench", bench_mode);
	u64 live_mib = arg_u64("live_mib", 64), reserve_mib = arg_u64("reserve_mib", 32);
	u64 drop = arg_u64("drop", 0), migrations = arg_u64("migrations", 1);
	u64 cancel_ms = arg_u64("cancel_ms", 0), timeout_s = arg_u64("mig_timeout_s", 100);
	char mopts[256], r[2048];
	u64 drop_freed = 0;
	int rc;

	cache_mib = arg_u64("cache_mib", 32);
	slab_mib = arg_u64("slab_mib", cache_mib / 4);
	snprintf(mopts, sizeof(mopts), "%s%s%s%s%s", arg_get("speed") ? "speed=" : "",
		 arg_get("speed") ? arg_get("speed") : "", arg_get("speed") ? " " : "",
		 arg_get("downtime_ms") ? "downtime_ms=" : "", arg_get("downtime_ms") ? arg_get("downtime_ms") : "");
	m.hints = hints;
	m.bitmap = !strcmp(hints, "bitmap");
	m.fph = !strcmp(hints, "fph");
	if (!m.bitmap && !m.fph && strcmp(hints, "none"))
		panic("hints=%s: expected none, fph or bitmap", hints);
	m.write_hinted = MIB_PAGES(arg_u64("write_hinted_mib", 0));
	if (!hostcall_available()) {
		report_skip("no host agent: cannot migrate");
		return;
	}

	balloon_opts_default(&o);
	balloon_opts_from_args(&o);
	if (m.fph)
		o.features |= 1ull << VIRTIO_BALLOON_F_FREE_PAGE_HINT;
	else
		o.features &= ~(1ull << VIRTIO_BALLOON_F_FREE_PAGE_HINT);
	if (!m.bitmap && !arg_bool("hostreq", false))
		o.features &= ~(1ull << FB_F_HOST_REQ);
	rc = balloon_init(b, &o);
	if (rc) {
		printf("BENCH error msg=\"balloon init %d\"\n", rc);
		report(false, "balloon device initialised (error %d)", rc);
		return;
	}
	report_info("balloon: offered 0x%llx negotiated 0x%llx, irq %s, hints=%s", (unsigned long long)b->vd.features_offered,
		    (unsigned long long)b->vd.features, b->vd.msix ? "msix" : b->vd.intx ? "intx" : "none", hints);
	if (m.bitmap && !virtio_has(&b->vd, FB_F_HOST_REQ)) {
		report(false, "hints=bitmap: HOST_REQ negotiated (device needs host-req=on)");
		printf("BENCH error msg=\"no HOST_REQ\"\n");
		return;
	}
	if (m.fph && !b->fvq) {
		report(false, "hints=fph: FREE_PAGE_HINT negotiated (device needs free-page-hint=on,iothread=..)");
		printf("BENCH error msg=\"no FREE_PAGE_HINT\"\n");
		return;
	}
	b->drop_cache = cache_drop;
	b->fp_hold = arg_bool("stale", false) && m.bitmap;
	b->fph_stale_probe = arg_bool("stale", false) && m.fph;

	/* sets: run lists sized for fragmented pools */
	pset_init(&live, "live", 1 << 16, 0x11fe);
	pset_init(&cache_pc, "cache", 1 << 16, 0xcac4e);
	pset_init(&cache_slab, "slab", 1 << 14, 0x51ab);
	pset_init(&work, "workload", 1 << 17, 0);
	pset_init(&hinted_w, "written-hinted", 1 << 14, 0x4147);
	if (strcmp(arg_get("layout") ? arg_get("layout") : "high", "low")) {
		/* layout=high: the workload's pages are the lowest, live data and cache sit above them */
		u64 keep = MIB_PAGES(live_mib + cache_mib + slab_mib + reserve_mib), avail = pool_free_pages(&guest_pool);

		if (avail > keep)
			pset_alloc(&work, avail - keep);
	}
	if (pset_alloc(&live, MIB_PAGES(live_mib)) != MIB_PAGES(live_mib))
		panic("live data: out of memory");
	pset_fill(&live);
	cache_build();
	b->brk_pfn = live.runs[0].pfn;	/* break=hint-used names these live pages */
	b->brk_n = MIN(live.runs[0].n, MIB_PAGES(4));
	workload(MIB_PAGES(reserve_mib), arg_bool("fill_full", true));
	report_info("live %llu MiB (%llu runs), cache %llu MiB + slab %llu MiB, workload wrote and freed %llu MiB, %llu MiB free",
		    (unsigned long long)live_mib, (unsigned long long)live.nruns, (unsigned long long)cache_mib,
		    (unsigned long long)slab_mib, (unsigned long long)(work.pages >> 8),
		    (unsigned long long)(pool_free_pages(&guest_pool) >> 8));

	/* drop the cache first: asked by the host through QMP (bitmap), or by ourselves (stock QEMU) */
	if (drop) {
		u64 free0 = pool_free_pages(&guest_pool);

		if (m.bitmap) {
			u64 t0 = now_ns(), pf = 0;
			bool ok = qmp(r, sizeof(r), "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"" QOM_PATH
				      "\",\"property\":\"drop-cache\",\"value\":%llu}}", (unsigned long long)drop) == 0;

			report(ok, "QMP qom-set drop-cache %llu accepted", (unsigned long long)drop);
			while (ok && now_ns() - t0 < 10000000000ull) {
				balloon_service(b);
				if (qmp(r, sizeof(r), "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"" QOM_PATH
					"\",\"property\":\"drop-cache-result\"}}"))
					break;
				if (strstr(r, "\"state\":\"done\"")) {
					json_get_u64(r, "pages-freed", &pf);
					break;
				}
				mdelay(10);
			}
			report(strstr(r, "\"state\":\"done\"") && pf == b->drop_pages && pf,
			       "drop-cache-result: done, pages-freed %llu = pages the guest freed (%llu): %.200s",
			       (unsigned long long)pf, (unsigned long long)b->drop_pages, r);
			drop_freed = b->drop_pages;
		} else {
			drop_freed = cache_drop((u32)drop, NULL);
		}
		report(pool_free_pages(&guest_pool) - free0 == drop_freed && drop_freed ==
		       ((drop & 1) ? MIB_PAGES(cache_mib) : 0) + ((drop & 2) ? MIB_PAGES(slab_mib) : 0),
		       "drop-cache kind %llu freed %llu real pages to the pool", (unsigned long long)drop,
		       (unsigned long long)drop_freed);
	}

	/* a migration cancelled half way: the guest stays on the source */
	if (cancel_ms) {
		u64 zero, kept, spd = arg_u64("cancel_speed", 64ull << 20);
		char co[128];

		snprintf(co, sizeof(co), "speed=%llu", (unsigned long long)spd);
		report(migrate(&m, co, cancel_ms, timeout_s) && !strcmp(m.status, "cancelled"),
		       "migration cancelled half way (status %s)", m.status);
		report(pset_bad(&live) == 0, "source: live data intact after the cancel");
		work_scan(&zero, &kept);
		if (m.bitmap || m.fph)
			report(zero == 0, "FB-V14/FPH: the device changed no hinted page on the source (%llu free workload pages kept their content, %llu read zero)",
			       (unsigned long long)kept, (unsigned long long)zero);
		if (b->fp_hold) {
			/* the cancelled round's records: stale; a record after its DONE: bad (FB-V15) */
			report(b->hs.stale_sent >= 3, "stale probe: records sent for a cancelled id (%llu)",
			       (unsigned long long)b->hs.stale_sent);
			if (hr_stats(r, sizeof(r)))
				report(jget(r, "stale-records") >= 2 && jget(r, "bad-records") == b->hs.stale_sent / 3 &&
				       jget(r, "outstanding") == 0,
				       "FB-V15: host-req-stats stale-records %llu (>= 2), bad-records %llu (= %llu records after DONE), outstanding %llu",
				       (unsigned long long)jget(r, "stale-records"), (unsigned long long)jget(r, "bad-records"),
				       (unsigned long long)b->hs.stale_sent / 3, (unsigned long long)jget(r, "outstanding"));
			else
				report(false, "host-req-stats readable");
			b->fp_hold = false;
		}
		/* a second migration then goes through (below) */
		if (hostcall(r, sizeof(r), 5000, "time"))
			report(false, "guest still talks to the source");
	}

	for (u64 i = 0; i < migrations; i++) {
		u64 zero, kept, bad, whbad = 0, total_ms = 0, downtime = 0, transferred = 0, skipped;
		char o2[200];

		u64 named0 = b->hs.pages + b->fs.pages, named, notsent, nz;

		snprintf(o2, sizeof(o2), "%s", mopts);
		nz = nz_scan();
		if (!migrate(&m, o2, 0, timeout_s) || strcmp(m.status, "completed")) {
			report(false, "migration %llu completed (%s)", (unsigned long long)i + 1, m.final);
			printf("BENCH op=migrate hints=%s drop=%llu data_verified=0 error=\"%s\"\n", hints,
			       (unsigned long long)drop, m.status);
			return;
		}
		json_get_u64(m.final, "total-time", &total_ms);
		json_get_u64(m.final, "downtime", &downtime);
		json_get_u64(m.final, "transferred", &transferred);
		bad = pset_bad(&live);
		if (hinted_w.pages)
			whbad = pset_bad(&hinted_w);
		work_scan(&zero, &kept);
		notsent = nz_lost();
		named = b->hs.pages + b->fs.pages - named0;
		skipped = notsent;
		report(true, "migration %llu completed: %llu ms total, %llu ms down, %llu MiB sent (guest %llu ms)",
		       (unsigned long long)i + 1, (unsigned long long)total_ms, (unsigned long long)downtime,
		       (unsigned long long)(transferred >> 20), (unsigned long long)m.guest_ms);
		report(bad == 0, "destination: live data set of %llu MiB intact (%llu bad pages)",
		       (unsigned long long)live_mib, (unsigned long long)bad);
		report(pset_bad(&cache_pc) == 0 && pset_bad(&cache_slab) == 0, "destination: cache (%llu pages) intact",
		       (unsigned long long)(cache_pc.pages + cache_slab.pages));
		if (hinted_w.pages)
			report(whbad == 0, "FB-D11/D8: %llu hinted pages written during the round arrived (%llu bad)",
			       (unsigned long long)hinted_w.pages, (unsigned long long)whbad);
		report_info("free workload pages on the destination: %llu read zero (skipped), %llu hold their content; "
			    "free pages with data before that read zero now (not sent) %llu; pages named in hints %llu; device hinted-pages %llu (last read)",
			    (unsigned long long)zero, (unsigned long long)kept, (unsigned long long)notsent,
			    (unsigned long long)named, (unsigned long long)m.hinted_pages);
		printf("BENCH op=migrate hints=%s drop=%llu drop_pages=%llu live_mib=%llu cache_mib=%llu workload_mib=%llu "
		       "total_ms=%llu downtime_ms=%llu transferred_bytes=%llu skipped_pages=%llu hinted_pages=%llu device_hinted_pages=%llu "
		       "hint_rounds=%llu hint_records=%llu guest_ms=%llu free_sent_pages=%llu "
		       "reuse_written_pages=%llu free_before_pages=%llu free_min_pages=%llu data_verified=%d\n",
		       hints, (unsigned long long)drop, (unsigned long long)drop_freed, (unsigned long long)live_mib,
		       (unsigned long long)(cache_mib + slab_mib), (unsigned long long)(work.pages >> 8),
		       (unsigned long long)total_ms, (unsigned long long)downtime, (unsigned long long)transferred,
		       (unsigned long long)skipped, (unsigned long long)named, (unsigned long long)m.hinted_pages,
		       (unsigned long long)(m.bitmap ? b->hs.requests : b->fs.requests),
		       (unsigned long long)(m.bitmap ? b->hs.records : b->fs.records), (unsigned long long)m.guest_ms,
		       (unsigned long long)kept, (unsigned long long)(hinted_w.pages - m.wh_base),
		       (unsigned long long)m.free_before, (unsigned long long)m.free_min, bad == 0 && whbad == 0);
		if (bench)
			continue;
		/*
		 * Named free at the round's start, yet sent: a hint that landed
		 * after the host sent its pages (QEMU 7.2's migration thread held
		 * the dirty bitmap's lock up to 50 ms per run: patch 0008).
		 */
		if (m.bitmap && i == 0 && zero + kept)
			report(kept * 50 <= zero + kept,
			       "hints land before their pages are sent: %llu of %llu free workload pages sent anyway (<= 2%%)",
			       (unsigned long long)kept, (unsigned long long)(zero + kept));
		if (m.bitmap) {
			report(b->hs.requests >= 1 && named > 0, "FREE_PAGES answered %llu times, %llu pages named this migration",
			       (unsigned long long)b->hs.requests, (unsigned long long)named);
			report(balloon_hreq_posted(b) >= 2, "FB-D9: %u host_req_vq buffers posted (>= 2)", balloon_hreq_posted(b));
			report(ids_unique(b->id_log, b->id_n), "FB-V13: %u request ids non-zero and never reused (across migration)",
			       b->id_n);
			if (hr_stats(r, sizeof(r)))
				report(jget(r, "outstanding") == 0 && jget(r, "bad-records") == 0,
				       "FB-D10: every request DONE once, nothing after DONE (destination: outstanding %llu, bad-records %llu)",
				       (unsigned long long)jget(r, "outstanding"), (unsigned long long)jget(r, "bad-records"));
			else
				report(false, "host-req-stats readable on the destination");
		}
		if (m.fph) {
			/* expect_wrong=fph-ids / fph-done: the V1 / V3 checks, inverted (negative entries) */
			const char *wrong = arg_get("expect_wrong") ? arg_get("expect_wrong") : "";
			u32 id_min = !strcmp(wrong, "fph-ids") ? 0xc0000000u : 0x80000000u;
			bool done_wrong = !strcmp(wrong, "fph-done");
			bool incr = true;

			for (u32 k = 1; k < b->fph_nids; k++)
				incr = incr && b->fph_ids[k] != b->fph_ids[k - 1] && b->fph_ids[k] >= id_min;
			report(b->fph_nids >= 1 && b->fph_ids[0] >= id_min && incr,
			       "FPH V1: %u cmd ids >= 0x%x, a new one per round (first 0x%x, last 0x%x)", b->fph_nids, id_min,
			       b->fph_ids[0], b->fph_nids ? b->fph_ids[b->fph_nids - 1] : 0);
			report(b->fs.done == b->fs.requests && b->fs.pages > 0,
			       "FPH: %llu rounds hinted %llu pages, each ended with STOP", (unsigned long long)b->fs.requests,
			       (unsigned long long)b->fs.pages);
			report((virtio_cread32(&b->vd, 8) == 1 || b->fs.fph_done_seen) != done_wrong,
			       done_wrong ? "FPH V3 (expect_wrong): the device says no DONE after the migration (cmd id 0x%x, DONE seen %llu)"
					  : "FPH V3: the device says DONE after the migration (cmd id 0x%x, DONE seen %llu)",
			       virtio_cread32(&b->vd, 8), (unsigned long long)b->fs.fph_done_seen);
			if (b->fph_stale_probe)
				report(b->fs.stale_sent > 0 && bad == 0,
				       "FPH V2: %llu stale ids with in-use pages were ignored (live data intact)",
				       (unsigned long long)b->fs.stale_sent);
		}
		if ((m.bitmap || m.fph) && (nz < MIB_PAGES(64) || i))
			report_info("%llu free pages held data before migration %llu (after a first one, only the pages "
				    "sent before the hints arrived): %llu not sent", (unsigned long long)nz,
				    (unsigned long long)i + 1, (unsigned long long)notsent);
		else if (m.bitmap || m.fph)
			report(notsent > 0, "hints made the host skip pages: %llu free pages with data were not sent",
			       (unsigned long long)notsent);
		else
			report(notsent == 0, "no hints: every free page with data was sent (%llu not sent)", (unsigned long long)notsent);
		if (arg_bool("rebuild", false)) {
			cache_build();
			report(pset_bad(&cache_pc) == 0 && pset_bad(&cache_slab) == 0, "cache rebuilt on the destination");
		}
	}
}
static void migrate_hints_test(void)
{
	bench_mode = false;
	migrate_hints();
}

static void bench_migrate(void)
{
	bench_mode = true;
	migrate_hints();
}
GUEST_TEST("migrate-hints", migrate_hints_test, "live migration with free-page hints: data verified on the destination");
GUEST_TEST("bench-migrate", bench_migrate, "benchmark mode: migrate with hints=none|fph|bitmap, print a BENCH line");
