/*
 * Soak (issue 13 item 3; docs/reliability.md): cycles=N inflate/deflate
 * cycles of random sizes, shapes and protocols while the guest keeps a
 * pattern in all the memory it owns; at the end QEMU's RSS and the device's
 * counters are checked for leaks.
 *
 * The guest takes every free page but a small reserve (reserve_mib) and
 * writes a pattern into all of it. Each cycle picks a protocol (BITMAP or
 * RANGES records, or 32-bit PFN arrays after a device reset and a new
 * negotiation without the record features), a random slice of its pages
 * (1 to max_pages pages, every page or every 2nd..4th, so both runs and
 * scattered sets), inflates exactly those, checks the pages left between
 * them, deflates them and writes their pattern again. Every verify_every
 * cycles and at the end it verifies all it owns. Arguments: cycles=1000
 * seed=1 max_pages=16384 reserve_mib=8 verify_every=100 rss_slack_mib=8.
 */
#include "types.h"
#include "io.h"
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

#define QOM_PATH "/machine/peripheral/balloon0/virtio-backend"

static struct balloon bal;
static u64 *own, nown, *pfns;
static u64 rng;

static u64 rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* a cheap pattern (TCG): one multiply per page, an add per word */
static void pat_fill(u64 pfn)
{
	u64 *w = phys_to_virt(pfn << PAGE_SHIFT), v = pfn * 0x9e3779b97f4a7c15ull ^ 0x50a4;

	for (u64 i = 0; i < PAGE_SIZE / 8; i++)
		w[i] = v + i;
}

static bool pat_ok(u64 pfn)
{
	const u64 *w = phys_to_virt(pfn << PAGE_SHIFT);
	u64 v = pfn * 0x9e3779b97f4a7c15ull ^ 0x50a4;

	for (u64 i = 0; i < PAGE_SIZE / 8; i++)
		if (w[i] != v + i)
			return false;
	return true;
}

static bool own_take(u64 pfn, u64 n, void *ctx)
{
	(void)ctx;
	for (u64 i = 0; i < n; i++)
		own[nown++] = pfn + i;
	return true;
}

static u64 rss_kib(void)
{
	char r[64];
	u64 v = 0;
	const char *p = r;

	if (hostcall(r, sizeof(r), 2000, "rss"))
		return 0;
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (u64)(*p++ - '0');
	return v;
}

/* records (BITMAP/RANGES negotiated) or PFN arrays: reset and negotiate again */
static bool set_pfn_mode(struct balloon *b, bool pfn)
{
	u64 rec = (1ull << FB_F_PAGE_BITMAP) | (1ull << FB_F_PAGE_RANGES) | (1ull << FB_F_HOST_REQ);
	int r;

	balloon_reset(b);
	b->o.features = pfn ? b->o.features & ~rec : b->o.features | rec;
	b->o.proto = pfn ? PROTO_PFN : PROTO_AUTO;
	b->o.batch = 0;
	r = balloon_reinit(b);
	for (u32 i = 0; i < b->o.inflight; i++)
		b->reqs[i].max_pages = b->o.batch;
	if (r)
		report(false, "device negotiated again for %s (error %d)", pfn ? "PFN arrays" : "records", r);
	return r == 0;
}

static void soak(void)
{
	struct balloon *b = &bal;
	struct fast_stats fs0, fs;
	u64 cycles = arg_u64("cycles", 1000), max_pages = arg_u64("max_pages", 16384);
	u64 verify_every = arg_u64("verify_every", 100), reserve = arg_u64("reserve_mib", 8) << 8;
	u64 slack_kib = arg_u64("rss_slack_mib", 8) << 10;
	u64 n_proto[3] = { 0 }, resets = 0, inflated = 0, bad_between = 0, bad_full = 0, fails = 0, scans = 0;
	u64 rss0, rss1, t0, actual = ~0ull, want;
	bool pfn_mode = false, ok;
	char r[4096];

	rng = arg_u64("seed", 1) * 0x2545f4914f6cdd1dull | 1;
	if (!hostcall_available()) {
		report_skip("no host agent: cannot read QEMU's RSS");
		return;
	}
	if (!bt_init(b))
		return;
	if (!b->records || !virtio_has(&b->vd, FB_F_PAGE_BITMAP) || !virtio_has(&b->vd, FB_F_PAGE_RANGES)) {
		report(false, "PAGE_BITMAP and PAGE_RANGES negotiated (device needs page-bitmap=on,page-ranges=on)");
		return;
	}
	ok = fast_stats_read(&fs0);
	pfns = pages_alloc((max_pages * 8 + PAGE_SIZE - 1) / PAGE_SIZE);
	want = pool_free_pages(&guest_pool) - reserve;
	own = pages_alloc((want * 8 + PAGE_SIZE - 1) / PAGE_SIZE);
	if (!pfns || !own || !ok)
		panic("soak: set-up failed");
	want = pool_free_pages(&guest_pool) > reserve ? pool_free_pages(&guest_pool) - reserve : 0;
	while (nown < want && pool_alloc_bulk(&guest_pool, want - nown, own_take, NULL))
		;
	for (u64 i = 0; i < nown; i++)
		pat_fill(own[i]);
	rss0 = rss_kib();
	report_info("soak: %llu cycles, %llu MiB owned with a pattern, slices up to %llu pages, QEMU RSS %llu KiB",
		    (unsigned long long)cycles, (unsigned long long)(nown >> 8), (unsigned long long)max_pages,
		    (unsigned long long)rss0);
	t0 = now_ns();
	for (u64 c = 0; c < cycles; c++) {
		u64 proto = rnd() % 3, stride = 1 + rnd() % 4, len = 1 + rnd() % (1ull << (rnd() % 15)), start, n = 0;

		if (len > max_pages)
			len = max_pages;
		if ((proto == 2) != pfn_mode) {
			pfn_mode = proto == 2;
			resets++;
			if (!set_pfn_mode(b, pfn_mode))
				return;
		}
		if (!pfn_mode)
			b->enc = proto ? &balloon_ranges_encoder : &balloon_bitmap_encoder, b->o.proto = proto ? PROTO_RANGES : PROTO_BITMAP;
		n_proto[proto]++;
		start = rnd() % nown;
		for (u64 i = start; i < nown && n < len; i += stride)
			pfns[n++] = own[i];
		if (balloon_inflate_pfns(b, pfns, n) != n || b->nr_pages != n)
			fails++;
		inflated += n;
		/* the pages between the ballooned ones (stride > 1) and around them keep their pattern */
		for (u64 i = start ? start - 1 : 0; i < nown && i <= start + n * stride; i++)
			if (!balloon_page_in(b, own[i]) && !pat_ok(own[i]))
				bad_between++;
		if (balloon_deflate_pfns(b, pfns, n) != n || b->nr_pages != 0)
			fails++;
		for (u64 i = 0; i < n; i++)
			pat_fill(pfns[i]);
		if (verify_every && (c + 1) % verify_every == 0) {
			scans++;
			for (u64 i = 0; i < nown; i++)
				bad_full += !pat_ok(own[i]);
		}
	}
	t0 = now_ns() - t0;
	if (pfn_mode)
		set_pfn_mode(b, false), resets++;
	for (u64 i = 0; i < nown; i++)
		bad_full += !pat_ok(own[i]);
	report(fails == 0, "%llu cycles: every inflate and deflate took all its pages (%llu pages in all; bitmap %llu, ranges %llu, pfn %llu cycles; %llu device resets to switch; %llu ms)",
	       (unsigned long long)cycles, (unsigned long long)inflated, (unsigned long long)n_proto[0],
	       (unsigned long long)n_proto[1], (unsigned long long)n_proto[2], (unsigned long long)resets,
	       (unsigned long long)(t0 / 1000000));
	report(bad_between == 0 && bad_full == 0,
	       "nothing lost: the pattern in all %llu MiB the guest owns verified after every cycle around the slice and in full %llu times (%llu + %llu bad pages)",
	       (unsigned long long)(nown >> 8), (unsigned long long)scans + 1, (unsigned long long)bad_between,
	       (unsigned long long)bad_full);
	ok = fast_stats_read(&fs);
	report(ok && fs.bad == fs0.bad && fs.inflated - fs0.inflated == inflated && fs.deflated - fs0.deflated == inflated,
	       "device counters: %llu pages inflated, %llu deflated (the guest: %llu each), %llu bad records",
	       (unsigned long long)(fs.inflated - fs0.inflated), (unsigned long long)(fs.deflated - fs0.deflated),
	       (unsigned long long)inflated, (unsigned long long)(fs.bad - fs0.bad));
	ok = qmp(r, sizeof(r), "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"" QOM_PATH
		 "\",\"property\":\"host-req-stats\"}}") == 0;
	{
		u64 out = ~0ull, bad = ~0ull;

		json_get_u64(r, "outstanding", &out);
		json_get_u64(r, "bad-records", &bad);
		report(ok && out == 0 && bad == 0, "host-req-stats: outstanding %llu, bad-records %llu", (unsigned long long)out,
		       (unsigned long long)bad);
	}
	ok = qmp_actual_pages(&actual);
	report(ok && actual == 0 && b->nr_pages == 0, "query-balloon: %llu pages in the balloon at the end", (unsigned long long)actual);
	rss1 = rss_kib();
	report(rss0 && rss1 && rss1 <= rss0 + slack_kib && rss1 + slack_kib >= rss0,
	       "QEMU RSS back within %llu MiB of the start: %llu KiB at the start, %llu KiB at the end (%s%llu KiB)",
	       (unsigned long long)(slack_kib >> 10), (unsigned long long)rss0, (unsigned long long)rss1,
	       rss1 >= rss0 ? "+" : "-", (unsigned long long)(rss1 >= rss0 ? rss1 - rss0 : rss0 - rss1));
}
GUEST_TEST("soak", soak, "inflate/deflate cycles of random sizes and protocols, a pattern in all memory, RSS and counters after");
