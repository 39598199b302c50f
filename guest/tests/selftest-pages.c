/*
 * The page pool against the machine: every usable page is reachable, none is
 * handed out twice, the count matches -m, and a page keeps what is written.
 */
#include "report.h"
#include "pages.h"
#include "fwcfg.h"
#include "timer.h"
#include "string.h"
#include "io.h"
#include "test.h"
#include "bootinfo.h"

#define MAGIC 0x6662616c6c6f6f6eULL	/* "fballoon" */

struct take_ctx {
	u64 *seen;		/* one bit per pfn: handed out already */
	u64 dups, pages, runs;
	u64 max_pfn;
	u64 outside;		/* pfns outside any usable range */
};

const struct boot_info *guest_boot_info(void);

static bool pfn_usable(u64 pfn)
{
	const struct boot_info *bi = guest_boot_info();

	for (u32 i = 0; i < bi->nr_ranges; i++) {
		u64 s = bi->ranges[i].start >> PAGE_SHIFT;

		if (bi->ranges[i].type == BOOT_MEM_USABLE && pfn >= s && pfn < s + bi->ranges[i].pages)
			return true;
	}
	return false;
}

static bool take_run(u64 pfn, u64 count, void *opaque)
{
	struct take_ctx *c = opaque;

	if (!pfn_usable(pfn) || !pfn_usable(pfn + count - 1))
		c->outside++;
	for (u64 p = pfn; p < pfn + count; p++) {
		u64 *page = phys_to_virt(p << PAGE_SHIFT);

		if (c->seen[p / 64] & (1ULL << (p % 64)))
			c->dups++;
		c->seen[p / 64] |= 1ULL << (p % 64);
		/* first and last word carry the page's own number */
		page[0] = p ^ MAGIC;
		page[PAGE_SIZE / 8 - 1] = ~p ^ MAGIC;
	}
	c->pages += count;
	c->runs++;
	return true;
}

static void selftest_pages(void)
{
	struct page_pool *p = &guest_pool;
	u64 ram = fwcfg_ram_size(), usable = p->nr_usable << PAGE_SHIFT;
	u64 free0 = pool_free_pages(p), words = (p->max_pfn + 63) / 64;
	u64 seen_pages = (words * 8 + PAGE_SIZE - 1) / PAGE_SIZE, bad = 0, t0, t1;
	struct take_ctx c = { 0 };
	u64 pfn, pfn2;

	report_info("ram %llu MiB, usable %llu MiB in pool, %llu free pages, max_pfn %#llx",
		    (unsigned long long)(ram >> 20), (unsigned long long)(usable >> 20),
		    (unsigned long long)free0, (unsigned long long)p->max_pfn);
	report(ram > 0, "fw_cfg reports the RAM size");
	/* firmware, ACPI and our image take some; most of -m must be ours */
	report(usable <= ram && usable >= ram / 100 * 90,
	       "usable memory (%llu MiB) is at least 90%% of -m (%llu MiB) and not more",
	       (unsigned long long)(usable >> 20), (unsigned long long)(ram >> 20));

	c.seen = pages_alloc(seen_pages);
	if (!c.seen) {
		report(false, "allocate the tracking bitmap");
		return;
	}
	c.max_pfn = p->max_pfn;
	free0 = pool_free_pages(p);

	/* take every free page, in runs, as a balloon would */
	t0 = now_ns();
	pool_alloc_bulk(p, ~0ULL, take_run, &c);
	t1 = now_ns();
	report(c.pages == free0, "bulk allocation reached every free page (%llu of %llu, %llu runs, %llu ms)",
	       (unsigned long long)c.pages, (unsigned long long)free0,
	       (unsigned long long)c.runs, (unsigned long long)((t1 - t0) / 1000000));
	report(c.dups == 0, "no page handed out twice (%llu duplicates)", (unsigned long long)c.dups);
	report(c.outside == 0, "every page handed out lies in a usable range of the memory map");
	report(pool_free_pages(p) == 0 && !pool_alloc_page(p, &pfn), "pool is empty afterwards");

	/* the tracking bitmap and our image must not have been handed out */
	for (u64 i = 0; i < seen_pages; i++) {
		u64 sp = (virt_to_phys(c.seen) >> PAGE_SHIFT) + i;

		if (c.seen[sp / 64] & (1ULL << (sp % 64)))
			bad++;
	}
	report(!bad, "pages in use were not handed out again");

	/* every page kept its pattern while all others were written */
	bad = 0;
	for (u64 w = 0; w < words; w++) {
		u64 bits = c.seen[w];

		while (bits) {
			u64 pp = w * 64 + __builtin_ctzll(bits);
			u64 *page = phys_to_virt(pp << PAGE_SHIFT);

			bits &= bits - 1;
			if (page[0] != (pp ^ MAGIC) || page[PAGE_SIZE / 8 - 1] != (~pp ^ MAGIC))
				bad++;
		}
	}
	report(!bad, "every page keeps the pattern written to it (%llu bad)", (unsigned long long)bad);

	/* give everything back */
	for (u64 w = 0; w < words; w++) {
		u64 bits = c.seen[w];

		while (bits) {
			u64 b = __builtin_ctzll(bits), n = 0;

			while (b + n < 64 && (bits >> (b + n) & 1))
				n++;
			pool_free_range(p, w * 64 + b, n);
			bits &= ~(n == 64 ? ~0ULL : ((1ULL << n) - 1) << b);
		}
	}
	report(pool_free_pages(p) == free0, "all pages returned (%llu free)",
	       (unsigned long long)pool_free_pages(p));

	/* contiguous, aligned runs */
	report(pool_alloc_run(p, 512, 512, &pfn) && !(pfn & 511),
	       "a 2 MiB-aligned run of 512 pages");
	report(pool_alloc_run(p, 3, 1, &pfn2) && (pfn2 + 3 <= pfn || pfn2 >= pfn + 512),
	       "a second run does not overlap the first");
	pool_free_range(p, pfn, 512);
	pool_free_range(p, pfn2, 3);
	report(pool_free_pages(p) == free0, "runs returned");
	pages_free(c.seen, seen_pages);
}
GUEST_TEST("selftest-pages", selftest_pages, "page pool: reach, uniqueness, count, patterns");
