/* ACPI table lookup: RSDP -> XSDT (or RSDT) -> tables. */
#include "acpi.h"
#include "io.h"
#include "string.h"

struct rsdp {
	char signature[8];
	u8 checksum;
	char oem_id[6];
	u8 revision;
	u32 rsdt;
	u32 length;
	u64 xsdt;
	u8 ext_checksum;
	u8 reserved[3];
} __packed;

static struct rsdp *rsdp;

static bool sum_ok(const void *p, u32 len)
{
	const u8 *b = p;
	u8 s = 0;

	for (u32 i = 0; i < len; i++)
		s += b[i];
	return s == 0;
}

void acpi_init(u64 addr)
{
	rsdp = addr ? phys_to_virt(addr) : NULL;
	if (rsdp && memcmp(rsdp->signature, "RSD PTR ", 8))
		rsdp = NULL;
}

void *acpi_find_table(const char *sig)
{
	struct acpi_header *sdt;
	bool x;
	u32 n;

	if (!rsdp)
		return NULL;
	x = rsdp->revision >= 2 && rsdp->xsdt;
	sdt = phys_to_virt(x ? rsdp->xsdt : rsdp->rsdt);
	n = (sdt->length - sizeof(*sdt)) / (x ? 8 : 4);
	for (u32 i = 0; i < n; i++) {
		u8 *ents = (u8 *)(sdt + 1);
		u64 pa;
		struct acpi_header *t;

		if (x)
			memcpy(&pa, ents + 8 * i, 8);
		else {
			u32 pa32;

			memcpy(&pa32, ents + 4 * i, 4);
			pa = pa32;
		}
		t = phys_to_virt(pa);
		if (!memcmp(t->signature, sig, 4) && sum_ok(t, t->length))
			return t;
	}
	return NULL;
}
