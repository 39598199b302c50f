/* ACPI table lookup from the RSDP the boot stub found (XSDT, else RSDT). */
#ifndef GUEST_ACPI_H
#define GUEST_ACPI_H
#include "types.h"

struct acpi_header {
	char signature[4];
	u32 length;
	u8 revision;
	u8 checksum;
	char oem_id[6];
	char oem_table_id[8];
	u32 oem_revision;
	u32 creator_id;
	u32 creator_revision;
} __packed;

void acpi_init(u64 rsdp);
/* first table with this 4-char signature whose checksum is valid, or NULL */
void *acpi_find_table(const char *sig);
#endif
