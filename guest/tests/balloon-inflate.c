/*
 * Inflate and deflate (virtio 1.2 5.5.6 "Device Operation"):
 *  - inflated pages are discarded by the host: after inflate + deflate they
 *    read back as zero, while their neighbours keep their pattern;
 *  - deflated pages are usable again; with PAGE_POISON they hold poison_val
 *    (5.5.6.6.1);
 *  - deflated pages are reused only after the device acknowledged the
 *    deflate (MUST_TELL_HOST ordering, 5.5.6.1);
 *  - actual follows the balloon and shows in QMP query-balloon (5.5.6.1).
 * Args: pages=N (bulk volume, default 1024), probe=N (pattern pages, default 64).
 */
#include "types.h"
#include "pages.h"
#include "report.h"
#include "args.h"
#include "timer.h"
#include "test.h"
#include "guest/tests/balloon-util.h"

static struct balloon bal;

static void balloon_inflate_test(void)
{
	struct balloon *b = &bal;
	u64 pages = arg_u64("pages", 1024), probe = arg_u64("probe", 64), base, got, free0, qpages = 0;
	static u64 pfns[1024];
	u64 t0, t1;

	probe = MIN(probe, ARRAY_SIZE(pfns));
	guard_init(64);
	if (!bt_init(b))
		return;
	free0 = pool_free_pages(&guest_pool);

	/* probe pages: every other page of a patterned run goes into the balloon */
	if (!pool_alloc_run(&guest_pool, 2 * probe + 1, 1, &base))
		panic("no run for probe pages");
	pattern_fill(base, 2 * probe + 1, 1);
	for (u64 i = 0; i < probe; i++)
		pfns[i] = base + 1 + 2 * i;
	got = balloon_inflate_pfns(b, pfns, probe);
	report(got == probe && b->nr_pages == probe, "inflate %llu probe pages acknowledged",
	       (unsigned long long)probe);

	/* bulk volume from the allocator */
	t0 = now_ns();
	got = balloon_inflate(b, pages);
	t1 = now_ns();
	report(got == pages, "inflate %llu pages from the allocator (%llu us, %llu requests so far)",
	       (unsigned long long)pages, (unsigned long long)ns_to_us(t1 - t0),
	       (unsigned long long)b->requests);
	report(balloon_read_actual(b) == probe + pages, "actual reads back %u = pages in the balloon",
	       balloon_read_actual(b));
	report(qmp_actual_pages(&qpages) && qpages == probe + pages,
	       "QMP query-balloon shows the written actual (%llu pages)", (unsigned long long)qpages);

	/* deflate: probe pages back to us, the rest to the allocator */
	got = balloon_deflate_pfns(b, pfns, probe);
	report(got == probe, "deflate probe pages");
	t0 = now_ns();
	got = balloon_deflate(b, pages);
	t1 = now_ns();
	report(got == pages && b->nr_pages == 0, "deflate %llu pages (%llu us)", (unsigned long long)pages,
	       (unsigned long long)ns_to_us(t1 - t0));
	report(qmp_actual_pages(&qpages) && qpages == 0, "QMP query-balloon back to 0 pages");
	report(b->ordering_violations == 0,
	       "deflated pages reused only after the deflate was acknowledged (MUST_TELL_HOST %s, 5.5.6.1)",
	       virtio_has(&b->vd, VIRTIO_BALLOON_F_MUST_TELL_HOST) ? "negotiated" :
	       (b->vd.features_offered & 1) ? "offered" : "not offered by the device");

	/* what the host did with the pages */
	{
		u64 zero = 0, kept = 0, poisoned = 0;

		for (u64 i = 0; i < probe; i++) {
			zero += pages_zero(pfns[i], 1);
			poisoned += pages_hold_u32(pfns[i], 1, b->poison_val);
			kept += pattern_ok(base + 2 * i, 1, 1);
		}
		kept += pattern_ok(base + 2 * probe, 1, 1);
		if (b->poison) {
			report(poisoned == probe, "PAGE_POISON: deflated pages hold poison_val 0x%x (%llu/%llu, 5.5.6.6.1)",
			       b->poison_val, (unsigned long long)poisoned, (unsigned long long)probe);
		} else {
			report(zero == probe, "inflated pages were discarded by the host: read back as zero (%llu/%llu)",
			       (unsigned long long)zero, (unsigned long long)probe);
		}
		report(kept == probe + 1, "neighbours of inflated pages keep their pattern (%llu/%llu)",
		       (unsigned long long)kept, (unsigned long long)probe + 1);
	}
	/* deflated pages are usable */
	for (u64 i = 0; i < probe; i++)
		pattern_fill(pfns[i], 1, 2);
	if (b->o.brk & BRK_REINFLATE)	/* the rule broken on purpose: pages back in the balloon */
		balloon_inflate_pfns(b, pfns, probe);
	{
		bool ok = true;

		for (u64 i = 0; i < probe; i++)
			ok &= pattern_ok(pfns[i], 1, 2);
		report(ok, "deflated pages are usable: written pattern reads back");
	}
	if (b->o.brk & BRK_REINFLATE)
		balloon_deflate_pfns(b, pfns, probe);
	pool_free_range(&guest_pool, base, 2 * probe + 1);
	report(pool_free_pages(&guest_pool) == free0, "allocator has every page back (%llu free)",
	       (unsigned long long)pool_free_pages(&guest_pool));
	guard_check();
}
GUEST_TEST("balloon-inflate", balloon_inflate_test, "inflate/deflate: discard, neighbours, reuse, actual");
