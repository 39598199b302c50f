/*
 * UEFI entry: collect the memory map, the ACPI RSDP and our image's range,
 * reserve the core's stack, page tables and allocator bitmap as LoaderData,
 * leave boot services (retrying on a stale map key) and jump to guest_main
 * on the new stack. Nothing of the firmware is used after this.
 */
#include <efi.h>
#include <efilib.h>
#include "guest/lib/bootinfo.h"
#include "guest/lib/cpu.h"

#define STACK_PAGES 64		/* 256 KiB */
#define MAP_EXTRA 16		/* descriptors of slack for the map growing */

static struct boot_info bi;

static EFI_GUID acpi20_guid = ACPI_20_TABLE_GUID;
static EFI_GUID acpi10_guid = ACPI_TABLE_GUID;

static void fail(const CHAR16 *what, EFI_STATUS st)
{
	Print(L"fastballoon boot: %s failed: %r\n", what, st);
	/* isa-debug-exit with the failure code so the runner sees it at once */
	__asm__ volatile("outl %0, %1" :: "a"((UINT32)1), "Nd"((UINT16)0xf4));
	for (;;)
		__asm__ volatile("hlt");
}

static UINT64 find_rsdp(EFI_SYSTEM_TABLE *st)
{
	UINT64 v1 = 0;

	for (UINTN i = 0; i < st->NumberOfTableEntries; i++) {
		EFI_CONFIGURATION_TABLE *t = &st->ConfigurationTable[i];

		if (!CompareGuid(&t->VendorGuid, &acpi20_guid))
			return (UINT64)(UINTN)t->VendorTable;
		if (!CompareGuid(&t->VendorGuid, &acpi10_guid))
			v1 = (UINT64)(UINTN)t->VendorTable;
	}
	return v1;
}

static UINT32 classify(UINT32 type)
{
	switch (type) {
	case EfiConventionalMemory:
	case EfiBootServicesCode:
	case EfiBootServicesData:
		return BOOT_MEM_USABLE;
	default:	/* loader (us), runtime, ACPI, MMIO, reserved, persistent */
		return BOOT_MEM_RESERVED;
	}
}

static EFI_PHYSICAL_ADDRESS alloc_pages(UINTN pages, const CHAR16 *what)
{
	EFI_PHYSICAL_ADDRESS a = 0;
	EFI_STATUS st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages,
					  EfiLoaderData, pages, &a);

	if (EFI_ERROR(st))
		fail(what, st);
	return a;
}

/* highest page frame of any usable range in the current map */
static UINT64 usable_max_pfn(EFI_MEMORY_DESCRIPTOR *map, UINTN size, UINTN dsz)
{
	UINT64 max = 0;

	for (UINTN off = 0; off < size; off += dsz) {
		EFI_MEMORY_DESCRIPTOR *d = (void *)((UINT8 *)map + off);
		UINT64 end = (d->PhysicalStart >> 12) + d->NumberOfPages;

		if (classify(d->Type) == BOOT_MEM_USABLE && end > max)
			max = end;
	}
	return max;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
	EFI_LOADED_IMAGE *li = NULL;
	EFI_GUID lip = LOADED_IMAGE_PROTOCOL;
	EFI_MEMORY_DESCRIPTOR *map;
	UINTN map_size = 0, map_cap, key, dsz;
	UINT32 dver;
	EFI_STATUS st;
	UINT64 max_pfn, pd_pages;

	InitializeLib(image, systab);
	Print(L"fastballoon boot: UEFI stub\n");

	st = uefi_call_wrapper(BS->HandleProtocol, 3, image, &lip, (void **)&li);
	if (EFI_ERROR(st))
		fail(L"LoadedImage", st);
	bi.image_start = (UINT64)(UINTN)li->ImageBase;
	bi.image_end = bi.image_start + li->ImageSize;
	bi.rsdp = find_rsdp(systab);

	/* size the map once to size the allocator bitmap */
	st = uefi_call_wrapper(BS->GetMemoryMap, 5, &map_size, NULL, &key, &dsz, &dver);
	if (st != EFI_BUFFER_TOO_SMALL)
		fail(L"GetMemoryMap (size)", st);
	map_cap = map_size + MAP_EXTRA * dsz + 4096;
	map = (void *)(UINTN)alloc_pages((map_cap + 4095) / 4096, L"map buffer");
	map_size = map_cap;
	st = uefi_call_wrapper(BS->GetMemoryMap, 5, &map_size, map, &key, &dsz, &dver);
	if (EFI_ERROR(st))
		fail(L"GetMemoryMap", st);
	max_pfn = usable_max_pfn(map, map_size, dsz);

	pd_pages = identity_map_limit() >> 30;
	bi.stack_pages = STACK_PAGES;
	bi.stack_start = alloc_pages(STACK_PAGES, L"stack");
	/* PML4 + PDPTs + PDs, as guest/lib/paging.c lays them out */
	bi.pt_pages = 1 + (pd_pages + 511) / 512 + pd_pages;
	bi.pt_start = alloc_pages(bi.pt_pages, L"page tables");
	bi.scratch_pages = ((max_pfn + 63) / 64 * 8 + 4095) / 4096;
	bi.scratch_start = alloc_pages(bi.scratch_pages, L"page bitmap");

	/* the map changes with every allocation above and maybe behind our back */
	for (;;) {
		map_size = map_cap;
		st = uefi_call_wrapper(BS->GetMemoryMap, 5, &map_size, map, &key, &dsz, &dver);
		if (EFI_ERROR(st))
			fail(L"GetMemoryMap", st);
		bi.exit_attempts++;
		st = uefi_call_wrapper(BS->ExitBootServices, 2, image, key);
		if (!EFI_ERROR(st))
			break;
		if (st != EFI_INVALID_PARAMETER || bi.exit_attempts >= 16)
			fail(L"ExitBootServices", st);
	}

	/* boot services are gone: no Print, no allocation from here on */
	for (UINTN off = 0; off < map_size && bi.nr_ranges < BOOT_MMAP_MAX; off += dsz) {
		EFI_MEMORY_DESCRIPTOR *d = (void *)((UINT8 *)map + off);
		struct boot_mem_range *r = &bi.ranges[bi.nr_ranges++];

		r->start = d->PhysicalStart;
		r->pages = d->NumberOfPages;
		r->efi_type = d->Type;
		r->type = classify(d->Type);
	}

	__asm__ volatile("cli\n\t"
			 "mov %0, %%rsp\n\t"
			 "xor %%ebp, %%ebp\n\t"
			 "call guest_main"
			 :: "r"(bi.stack_start + bi.stack_pages * 4096), "D"(&bi)
			 : "memory");
	return EFI_SUCCESS;	/* not reached */
}
