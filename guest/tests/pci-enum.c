/*
 * PCI enumeration and the virtio capabilities (virtio 1.2 4.1.4): ECAM from
 * MCFG agrees with CF8/CFC, the host bridge and the balloon are found, the
 * modern device has common/notify/ISR/device capabilities inside assigned
 * BARs, the transitional one an I/O BAR 0.
 */
#include "types.h"
#include "io.h"
#include "string.h"
#include "report.h"
#include "args.h"
#include "test.h"
#include <linux/virtio_pci.h>
#include "virtio/pci.h"

static void pci_enum_test(void)
{
	int n = pci_scan(), agree = 0;
	/* expect_wrong=cf8: compare ECAM's ids with CF8/CFC register 0x08 (negative entry) */
	u32 cf8_reg = arg_get("expect_wrong") && !strcmp(arg_get("expect_wrong"), "cf8") ? 0x08 : 0;
	struct pci_dev *bal = NULL;

	report(n >= 2, "%d PCI functions found via %s", n, pci_access_method());
	report(!strcmp(pci_access_method(), "ecam"), "ECAM from the ACPI MCFG table");
	for (int i = 0; i < n; i++) {
		struct pci_dev *d = pci_get(i);
		u32 cf8;

		outl(0x80000000u | (d->bus << 16) | (d->dev << 11) | (d->fn << 8) | cf8_reg, 0xcf8);
		cf8 = inl(0xcfc);
		agree += cf8 == ((u32)d->device << 16 | d->vendor);
		report_info("%02x:%02x.%x %04x:%04x class %06x%s", d->bus, d->dev, d->fn, d->vendor, d->device,
			    d->class_code, d->msix_cap ? " msix" : "");
		if (d->vendor == 0x1af4 && (d->device == 0x1002 || d->device == 0x1045))
			bal = d;
	}
	report(agree == n, "ECAM and CF8/CFC agree on every vendor/device id");
	report(pci_get(0) && pci_get(0)->vendor == 0x8086 && pci_get(0)->device == 0x29c0, "q35 host bridge at 00:00.0");
	if (!bal) {
		report(false, "virtio balloon found");
		return;
	}
	{
		u8 pos = 0;
		u32 types = 0;

		while ((pos = pci_find_cap(bal, PCI_CAP_ID_VNDR, pos))) {
			u8 t = pci_read8(bal, pos + 3), bar = pci_read8(bal, pos + 4);
			u32 off = pci_read32(bal, pos + 8), len = pci_read32(bal, pos + 12);

			if (t < 32 && bar < 6 && bal->bar[bar] && (u64)off + len <= bal->bar_size[bar])
				types |= 1u << t;
		}
		if (bal->device == 0x1045 || arg_bool("modern", true))
			report((types & 0x1e) == 0x1e,
			       "virtio capabilities common/notify/ISR/device present inside assigned BARs (4.1.4)");
		if (bal->device == 0x1002)
			report(bal->bar_io[0] && bal->bar[0], "transitional device: legacy I/O BAR 0 at 0x%llx",
			       (unsigned long long)bal->bar[0]);
		report(bal->subsys_id == 5 || bal->device == 0x1045, "virtio device type 5 (balloon)");
		report_info("balloon irq pin %u line %u, msix %s", bal->irq_pin, bal->irq_line, bal->msix_cap ? "yes" : "no (QEMU's balloon has no vectors property)");
	}
}
GUEST_TEST("pci-enum", pci_enum_test, "PCI enumeration, ECAM vs CF8, virtio capabilities");
