/* What the UEFI stub hands the guest core after ExitBootServices. */
#ifndef GUEST_BOOTINFO_H
#define GUEST_BOOTINFO_H
#include "types.h"

#define BOOT_MMAP_MAX 512

enum boot_mem_type {
	BOOT_MEM_USABLE = 1,	/* conventional or boot-services memory */
	BOOT_MEM_RESERVED,	/* anything the guest must not hand out */
};

struct boot_mem_range {
	u64 start;		/* physical byte address */
	u64 pages;		/* 4 KiB pages */
	u32 type;		/* enum boot_mem_type */
	u32 efi_type;		/* original EFI_MEMORY_TYPE, for reports */
};

struct boot_info {
	u64 rsdp;		/* physical address of the ACPI RSDP, 0 if none */
	u64 image_start, image_end;	/* our loaded image (bytes) */
	/* LoaderData the stub reserved for the core, never handed out: */
	u64 stack_start, stack_pages;		/* the core's stack */
	u64 pt_start, pt_pages;			/* page tables for paging_init */
	u64 scratch_start, scratch_pages;	/* the page pool's bitmap */
	u32 exit_attempts;	/* ExitBootServices calls until one succeeded */
	u32 nr_ranges;
	struct boot_mem_range ranges[BOOT_MMAP_MAX];
};

/* guest/lib/main.c */
void __noreturn guest_main(struct boot_info *bi);
#endif
