/*
 * Bitmap page allocator. Pure C (no guest dependencies beyond types.h), so
 * tests/unit compiles it for the host. Bulk requests move a whole 64-page
 * word per step, which is what makes ballooning GiBs cheap.
 */
#include "pages.h"

#ifdef HOST_TEST
#include <stdio.h>
#include <stdlib.h>
#define pool_bug(...) do { fprintf(stderr, __VA_ARGS__); abort(); } while (0)
#else
#include "report.h"
#define pool_bug(...) panic(__VA_ARGS__)
#endif

#define WORD_BITS 64

static inline u64 word_mask(u64 from, u64 n)
{
	/* n bits starting at bit 'from' of one word, n in 1..64 */
	return (n == WORD_BITS ? ~0ULL : ((1ULL << n) - 1)) << from;
}

void pool_init(struct page_pool *p, u64 *bitmap, u64 max_pfn)
{
	u64 words = (max_pfn + WORD_BITS - 1) / WORD_BITS;

	p->bitmap = bitmap;
	p->max_pfn = max_pfn;
	p->nr_free = 0;
	p->nr_usable = 0;
	p->hint = 0;
	for (u64 i = 0; i < words; i++)
		bitmap[i] = 0;
}

/* set (free=true) or clear bits of [pfn, pfn+n); returns how many changed */
static u64 set_range(struct page_pool *p, u64 pfn, u64 n, bool free)
{
	u64 changed = 0;

	while (n) {
		u64 w = pfn / WORD_BITS, b = pfn % WORD_BITS;
		u64 cnt = WORD_BITS - b < n ? WORD_BITS - b : n;
		u64 m = word_mask(b, cnt);
		u64 old = p->bitmap[w];

		if (free) {
			changed += __builtin_popcountll(m & ~old);
			p->bitmap[w] = old | m;
		} else {
			changed += __builtin_popcountll(m & old);
			p->bitmap[w] = old & ~m;
		}
		pfn += cnt;
		n -= cnt;
	}
	return changed;
}

static bool clip(const struct page_pool *p, u64 *pfn, u64 *n)
{
	if (*pfn >= p->max_pfn)
		return false;
	if (*n > p->max_pfn - *pfn)
		*n = p->max_pfn - *pfn;
	return *n != 0;
}

void pool_add_range(struct page_pool *p, u64 pfn, u64 n)
{
	u64 added;

	if (!clip(p, &pfn, &n))
		return;
	added = set_range(p, pfn, n, true);
	p->nr_free += added;
	p->nr_usable += added;
}

void pool_reserve_range(struct page_pool *p, u64 pfn, u64 n)
{
	u64 taken;

	if (!clip(p, &pfn, &n))
		return;
	taken = set_range(p, pfn, n, false);
	p->nr_free -= taken;
	p->nr_usable -= taken;
}

bool pool_page_is_free(const struct page_pool *p, u64 pfn)
{
	if (pfn >= p->max_pfn)
		return false;
	return p->bitmap[pfn / WORD_BITS] >> (pfn % WORD_BITS) & 1;
}

bool pool_alloc_page(struct page_pool *p, u64 *pfn)
{
	u64 words = (p->max_pfn + WORD_BITS - 1) / WORD_BITS;

	for (u64 i = 0; i < words; i++) {
		u64 w = (p->hint + i) % words;

		if (p->bitmap[w]) {
			u64 b = __builtin_ctzll(p->bitmap[w]);

			p->bitmap[w] &= ~(1ULL << b);
			p->nr_free--;
			p->hint = w;
			*pfn = w * WORD_BITS + b;
			return true;
		}
	}
	return false;
}

/* length of the run of free pages starting at pfn, up to limit */
static u64 free_run_len(const struct page_pool *p, u64 pfn, u64 limit)
{
	u64 len = 0;

	while (len < limit && pfn < p->max_pfn) {
		u64 w = pfn / WORD_BITS, b = pfn % WORD_BITS;
		u64 bits = p->bitmap[w] >> b;	/* bit 0 = pfn */
		u64 ones = bits == ~0ULL ? WORD_BITS : __builtin_ctzll(~bits);

		if (ones > WORD_BITS - b)
			ones = WORD_BITS - b;
		len += ones;
		pfn += ones;
		if (ones < WORD_BITS - b)
			break;
	}
	if (len > limit)
		len = limit;
	if (pfn > p->max_pfn)
		len -= pfn - p->max_pfn;
	return len;
}

/* first free pfn >= from, or max_pfn */
static u64 next_free(const struct page_pool *p, u64 from)
{
	u64 words = (p->max_pfn + WORD_BITS - 1) / WORD_BITS;
	u64 w = from / WORD_BITS;

	if (from >= p->max_pfn)
		return p->max_pfn;
	u64 bits = p->bitmap[w] & (~0ULL << (from % WORD_BITS));

	while (!bits) {
		if (++w >= words)
			return p->max_pfn;
		bits = p->bitmap[w];
	}
	from = w * WORD_BITS + __builtin_ctzll(bits);
	return from < p->max_pfn ? from : p->max_pfn;
}

bool pool_alloc_run(struct page_pool *p, u64 n, u64 align, u64 *pfn)
{
	u64 pos = 0;

	if (!n || n > p->nr_free)
		return false;
	if (align < 1)
		align = 1;
	if (align & (align - 1))
		return false;
	for (;;) {
		u64 start = next_free(p, pos), len;

		start = (start + align - 1) & ~(align - 1);
		if (start >= p->max_pfn || n > p->max_pfn - start)
			return false;
		len = free_run_len(p, start, n);
		if (len == n) {
			set_range(p, start, n, false);
			p->nr_free -= n;
			*pfn = start;
			return true;
		}
		pos = start + len + 1;
	}
}

u64 pool_alloc_bulk(struct page_pool *p, u64 want, pool_run_cb cb, void *ctx)
{
	u64 taken = 0, pos = 0;

	while (taken < want) {
		u64 start = next_free(p, pos), len;

		if (start >= p->max_pfn)
			break;
		len = free_run_len(p, start, want - taken);
		set_range(p, start, len, false);
		p->nr_free -= len;
		taken += len;
		pos = start + len;
		if (cb && !cb(start, len, ctx))
			break;
	}
	return taken;
}

void pool_free_range(struct page_pool *p, u64 pfn, u64 n)
{
	u64 freed;

	if (pfn >= p->max_pfn || n > p->max_pfn - pfn)
		pool_bug("pool_free_range: pfn %#llx+%llu outside the pool\n",
			 (unsigned long long)pfn, (unsigned long long)n);
	freed = set_range(p, pfn, n, true);
	if (freed != n)
		pool_bug("pool_free_range: double free in pfn %#llx+%llu\n",
			 (unsigned long long)pfn, (unsigned long long)n);
	p->nr_free += n;
}
