/*
 * PCI for the guest: configuration space through ECAM (ACPI MCFG) with the
 * legacy CF8/CFC ports as fallback, enumeration of bus 0 and everything
 * behind bridges, BARs as the firmware (OVMF) assigned them, capability
 * walks and MSI-X table programming.
 */
#ifndef VIRTIO_PCI_H
#define VIRTIO_PCI_H
#include "types.h"

#define PCI_MAX_DEVS 64

#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define  PCI_COMMAND_IO 0x1
#define  PCI_COMMAND_MEMORY 0x2
#define  PCI_COMMAND_MASTER 0x4
#define  PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS 0x06
#define  PCI_STATUS_CAP_LIST 0x10
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SECONDARY_BUS 0x19
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_CAP_ID_MSI 0x05
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_EXP 0x10
#define PCI_CAP_ID_MSIX 0x11

struct pci_dev {
	u8 bus, dev, fn;
	u16 vendor, device, subsys_id;
	u8 revision, header_type;
	u32 class_code;		/* class << 16 | subclass << 8 | prog-if */
	u64 bar[6];		/* base address (memory or port), 0 if none */
	u64 bar_size[6];
	bool bar_io[6];
	u8 irq_pin, irq_line;
	/* MSI-X */
	u8 msix_cap;		/* config offset, 0 if none */
	u16 msix_entries;
	volatile u32 *msix_table;
	bool msix_enabled;
};

/* How configuration space is reached: "ecam" or "cf8". */
const char *pci_access_method(void);
/* Scan once (idempotent); returns the number of functions found. */
int pci_scan(void);
int pci_count(void);
struct pci_dev *pci_get(int i);
/* n-th (0-based) function with this vendor/device; NULL if none */
struct pci_dev *pci_find(u16 vendor, u16 device, int n);

u8 pci_read8(struct pci_dev *d, u16 off);
u16 pci_read16(struct pci_dev *d, u16 off);
u32 pci_read32(struct pci_dev *d, u16 off);
void pci_write8(struct pci_dev *d, u16 off, u8 v);
void pci_write16(struct pci_dev *d, u16 off, u16 v);
void pci_write32(struct pci_dev *d, u16 off, u32 v);

/* first capability with this id at or after 'start' (0 = list head); 0 if none */
u8 pci_find_cap(struct pci_dev *d, u8 id, u8 start);
/* enable memory/IO decoding and bus mastering */
void pci_enable(struct pci_dev *d);

/* MSI-X */
bool pci_msix_enable(struct pci_dev *d);	/* all entries masked first */
void pci_msix_disable(struct pci_dev *d);
void pci_msix_set(struct pci_dev *d, u16 entry, u64 addr, u32 data, bool masked);
void pci_msix_mask(struct pci_dev *d, u16 entry, bool masked);
#endif
