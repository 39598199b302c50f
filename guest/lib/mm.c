/* The guest's global page pool, built from the UEFI memory map. */
#include "pages.h"
#include "bootinfo.h"
#include "desc.h"
#include "string.h"
#include "report.h"
#include "io.h"

struct page_pool guest_pool;

void mm_init(struct boot_info *bi)
{
	u64 max_pfn = 0, words;
	u64 *bitmap;

	for (u32 i = 0; i < bi->nr_ranges; i++) {
		u64 end = (bi->ranges[i].start >> PAGE_SHIFT) + bi->ranges[i].pages;

		if (bi->ranges[i].type == BOOT_MEM_USABLE && end > max_pfn)
			max_pfn = end;
	}
	words = (max_pfn + 63) / 64;
	/* the bitmap sits at the start of the stub's scratch area (after the stack) */
	bitmap = phys_to_virt(bi->scratch_start);
	if (words * 8 > bi->scratch_pages * PAGE_SIZE)
		panic("mm: bitmap for %llu pages does not fit the scratch area",
		      (unsigned long long)max_pfn);
	pool_init(&guest_pool, bitmap, max_pfn);
	for (u32 i = 0; i < bi->nr_ranges; i++)
		if (bi->ranges[i].type == BOOT_MEM_USABLE)
			pool_add_range(&guest_pool, bi->ranges[i].start >> PAGE_SHIFT,
				       bi->ranges[i].pages);
	/* keep page 0 out so a NULL pointer is never a valid page */
	pool_reserve_range(&guest_pool, 0, 1);
	/* the image and the scratch area are LoaderCode/Data, excluded above; be sure */
	pool_reserve_range(&guest_pool, bi->image_start >> PAGE_SHIFT,
			   (ALIGN_UP(bi->image_end, PAGE_SIZE) - ALIGN_DOWN(bi->image_start, PAGE_SIZE)) >> PAGE_SHIFT);
}

void *pages_alloc(u64 n)
{
	u64 pfn;
	void *p;

	if (!pool_alloc_run(&guest_pool, n, 1, &pfn))
		return NULL;
	p = phys_to_virt(pfn << PAGE_SHIFT);
	memset(p, 0, n << PAGE_SHIFT);
	return p;
}

void *page_alloc(void)
{
	u64 pfn;
	void *p;

	if (!pool_alloc_page(&guest_pool, &pfn))
		return NULL;
	p = phys_to_virt(pfn << PAGE_SHIFT);
	memset(p, 0, PAGE_SIZE);
	return p;
}

void pages_free(void *p, u64 n)
{
	pool_free_range(&guest_pool, virt_to_phys(p) >> PAGE_SHIFT, n);
}

void page_free(void *p)
{
	pages_free(p, 1);
}
