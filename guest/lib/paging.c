/*
 * Our own identity map, so that no page table of the firmware's (which lives
 * in boot-services memory the allocator hands out) stays in use. 2 MiB pages
 * up to the CPU's physical address limit cover RAM and every BAR.
 */
#include "desc.h"
#include "io.h"
#include "report.h"
#include "string.h"
#include "cpu.h"

#define PTE_P 0x1ULL
#define PTE_W 0x2ULL
#define PTE_PS 0x80ULL
#define PTE_PCD 0x10ULL

/* tables: nr_pages pages of LoaderData reserved by the stub (paging_table_pages()) */
void paging_init(struct boot_info *bi, u64 *tables, u64 nr_pages)
{
	u64 limit = identity_map_limit();
	u64 nr_pd = limit >> 30, nr_pdpt = (nr_pd + 511) / 512;
	u64 *pml4 = tables, *pdpt = tables + 512, *pd = pdpt + 512 * nr_pdpt;

	(void)bi;
	if (nr_pages < 1 + nr_pdpt + nr_pd)
		panic("paging: %llu table pages reserved, %llu needed",
		      (unsigned long long)nr_pages,
		      (unsigned long long)(1 + nr_pdpt + nr_pd));
	memset(tables, 0, (1 + nr_pdpt + nr_pd) * 4096);
	for (u64 i = 0; i < nr_pdpt; i++)
		pml4[i] = virt_to_phys(pdpt + 512 * i) | PTE_P | PTE_W;
	for (u64 i = 0; i < nr_pd; i++) {
		pdpt[i] = virt_to_phys(pd + 512 * i) | PTE_P | PTE_W;
		for (u64 j = 0; j < 512; j++)
			pd[512 * i + j] = ((i << 30) | (j << 21)) | PTE_P | PTE_W | PTE_PS;
	}
	asm volatile("mov %0, %%cr3" :: "r"(virt_to_phys(pml4)) : "memory");
}
