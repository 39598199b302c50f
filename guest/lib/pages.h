/*
 * Physical page allocator over every usable page of the memory map.
 * One bit per 4 KiB page (1 = free), so large counts are taken a 64-bit
 * word at a time. Pure C: also compiled and unit-tested on the host.
 * Not thread/IRQ safe: call from one context.
 */
#ifndef GUEST_PAGES_H
#define GUEST_PAGES_H
#include "types.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)

struct page_pool {
	u64 *bitmap;		/* 1 bit per page below max_pfn, set = free */
	u64 max_pfn;		/* pages [0, max_pfn) are tracked */
	u64 nr_free;
	u64 nr_usable;		/* pages ever added as usable */
	u64 hint;		/* word index where the next search starts */
};

/* bitmap must hold DIV_ROUND_UP(max_pfn, 64) words; all pages start in use */
void pool_init(struct page_pool *p, u64 *bitmap, u64 max_pfn);
/* mark [pfn, pfn+n) usable and free (boot-time only) */
void pool_add_range(struct page_pool *p, u64 pfn, u64 n);
/* take [pfn, pfn+n) out of the free set (e.g. reserved after adding) */
void pool_reserve_range(struct page_pool *p, u64 pfn, u64 n);
/* one page; returns false when none is free */
bool pool_alloc_page(struct page_pool *p, u64 *pfn);
/* n contiguous pages, aligned to 'align' pages (power of two, 0/1 = any) */
bool pool_alloc_run(struct page_pool *p, u64 n, u64 align, u64 *pfn);
/*
 * Take up to 'want' free pages, lowest first, in maximal runs; calls
 * cb(pfn, count, ctx) once per run taken. Returns the number taken.
 * If cb returns false, stops after that run.
 */
typedef bool (*pool_run_cb)(u64 pfn, u64 count, void *ctx);
u64 pool_alloc_bulk(struct page_pool *p, u64 want, pool_run_cb cb, void *ctx);
/* give back [pfn, pfn+n); panics (guest) / aborts (host) on a double free */
void pool_free_range(struct page_pool *p, u64 pfn, u64 n);
bool pool_page_is_free(const struct page_pool *p, u64 pfn);
static inline u64 pool_free_pages(const struct page_pool *p) { return p->nr_free; }

/* The guest's global pool, set up at boot from the UEFI memory map. */
extern struct page_pool guest_pool;
void *page_alloc(void);			/* one zeroed page or NULL */
void *pages_alloc(u64 n);		/* n contiguous zeroed pages or NULL */
void page_free(void *p);
void pages_free(void *p, u64 n);
#endif
