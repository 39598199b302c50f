/* Host unit tests of the guest's page pool (guest/lib/pages.c). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "pages.h"
#include "tap.h"

static u64 *new_bitmap(u64 max_pfn)
{
	return calloc((max_pfn + 63) / 64, 8);
}

struct collect {
	u64 *model;	/* 1 = handed out */
	u64 dup, pages, runs, last_end;
	int ascending;
};

static bool collect_run(u64 pfn, u64 count, void *opaque)
{
	struct collect *c = opaque;

	for (u64 p = pfn; p < pfn + count; p++) {
		if (c->model[p / 64] >> (p % 64) & 1)
			c->dup++;
		c->model[p / 64] |= 1ULL << (p % 64);
	}
	if (pfn < c->last_end)
		c->ascending = 0;
	c->last_end = pfn + count;
	c->pages += count;
	c->runs++;
	return true;
}

static void test_ranges(void)
{
	struct page_pool p;
	u64 *bm = new_bitmap(1000), pfn;

	pool_init(&p, bm, 1000);
	ok(pool_free_pages(&p) == 0 && !pool_alloc_page(&p, &pfn), "a new pool is empty");
	pool_add_range(&p, 10, 100);
	pool_add_range(&p, 50, 100);	/* overlaps: counted once */
	ok(pool_free_pages(&p) == 140 && p.nr_usable == 140, "overlapping ranges are counted once (%llu)",
	   (unsigned long long)pool_free_pages(&p));
	pool_add_range(&p, 990, 100);	/* clipped at max_pfn */
	ok(pool_free_pages(&p) == 150, "a range past max_pfn is clipped");
	pool_reserve_range(&p, 0, 20);
	ok(pool_free_pages(&p) == 140 && !pool_page_is_free(&p, 15) && pool_page_is_free(&p, 20),
	   "reserving takes pages out");
	bool got = pool_alloc_page(&p, &pfn);

	ok(got && pfn == 20, "first single page is the lowest free (%llu)", (unsigned long long)pfn);
	got = pool_alloc_run(&p, 64, 64, &pfn);
	ok(got && pfn == 64, "an aligned run starts aligned (%llu)", (unsigned long long)pfn);
	ok(!pool_alloc_run(&p, 200, 1, &pfn), "a run longer than any free stretch fails");
	ok(!pool_alloc_run(&p, 4, 3, &pfn), "a non-power-of-two alignment is refused");
	pool_free_range(&p, 64, 64);
	pool_free_range(&p, 20, 1);
	ok(pool_free_pages(&p) == 140, "freeing restores the count");
	free(bm);
}

static void test_bulk_random(void)
{
	const u64 max = 1 << 20;	/* 4 GiB of 4 KiB pages */
	struct page_pool p;
	u64 *bm = new_bitmap(max), *usable = calloc(max / 64, 8), expect = 0;
	struct collect c = { .model = calloc(max / 64, 8), .ascending = 1 };
	u64 outside = 0;

	srand(1234);
	pool_init(&p, bm, max);
	/* a memory map of random holes */
	for (u64 pfn = 1; pfn < max;) {
		u64 len = 1 + rand() % 5000, gap = rand() % 300;

		if (pfn + len > max)
			len = max - pfn;
		pool_add_range(&p, pfn, len);
		for (u64 i = pfn; i < pfn + len; i++)
			usable[i / 64] |= 1ULL << (i % 64);
		expect += len;
		pfn += len + gap;
	}
	ok(pool_free_pages(&p) == expect, "random map: %llu usable pages counted",
	   (unsigned long long)expect);
	/* take 3/4 in bulk */
	u64 want = expect / 4 * 3;
	u64 got = pool_alloc_bulk(&p, want, collect_run, &c);

	for (u64 i = 0; i < max / 64; i++)
		outside += __builtin_popcountll(c.model[i] & ~usable[i]);
	ok(got == want && c.pages == want, "bulk takes exactly what was asked (%llu)",
	   (unsigned long long)got);
	ok(c.dup == 0, "bulk never hands a page out twice");
	ok(outside == 0, "bulk hands out only usable pages");
	ok(c.ascending, "bulk runs come lowest first");
	ok(pool_free_pages(&p) == expect - want, "free count follows");
	/* singles after bulk don't collide with it */
	u64 pfn, dup = 0;

	for (int i = 0; i < 1000; i++) {
		if (!pool_alloc_page(&p, &pfn))
			break;
		if (c.model[pfn / 64] >> (pfn % 64) & 1)
			dup++;
		c.model[pfn / 64] |= 1ULL << (pfn % 64);
	}
	ok(dup == 0, "single pages after bulk are fresh");
	/* return everything taken, run by run from the model */
	u64 returned = 0;

	for (u64 w = 0; w < max / 64; w++)
		for (int b = 0; b < 64; b++)
			if (c.model[w] >> b & 1) {
				pool_free_range(&p, w * 64 + b, 1);
				returned++;
			}
	ok(pool_free_pages(&p) == expect, "everything returned (%llu)", (unsigned long long)returned);
	free(bm);
	free(usable);
	free(c.model);
}

static bool count_only(u64 pfn, u64 count, void *opaque)
{
	(void)pfn;
	(void)count;
	(*(u64 *)opaque)++;
	return true;
}

static void test_bulk_speed(void)
{
	/* 16 GiB pool, take 15 GiB: must be word-at-a-time, not per page */
	const u64 max = 4ULL << 20;
	struct page_pool p;
	u64 *bm = new_bitmap(max), runs = 0;
	struct timespec t0, t1;

	pool_init(&p, bm, max);
	pool_add_range(&p, 256, max - 256);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	u64 got = pool_alloc_bulk(&p, max / 16 * 15, count_only, &runs);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;

	ok(got == max / 16 * 15 && runs == 1, "one contiguous run for 15 GiB of a 16 GiB pool");
	/* a per-page walk of 3.9M pages under ASan takes far longer than this */
	ok(ms < 200, "taking 15 GiB is bitmap-speed (%.2f ms)", ms);
	free(bm);
}

static void test_fragmented(void)
{
	const u64 max = 1 << 16;
	struct page_pool p;
	u64 *bm = new_bitmap(max), runs = 0;

	pool_init(&p, bm, max);
	for (u64 i = 0; i < max; i += 2)
		pool_add_range(&p, i, 1);
	u64 got = pool_alloc_bulk(&p, max, count_only, &runs);

	ok(got == max / 2 && runs == max / 2, "every-other-page free set comes as single-page runs");
	free(bm);
}

int main(void)
{
	test_ranges();
	test_bulk_random();
	test_bulk_speed();
	test_fragmented();
	return done_testing();
}
