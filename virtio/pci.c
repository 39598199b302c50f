/* PCI configuration access, enumeration, capabilities and MSI-X. See pci.h. */
#include "types.h"
#include "io.h"
#include "acpi.h"
#include "printf.h"
#include "report.h"
#include "virtio/pci.h"

struct mcfg_entry {
	u64 base;
	u16 segment;
	u8 start_bus, end_bus;
	u32 reserved;
} __packed;

struct mcfg {
	struct acpi_header h;
	u64 reserved;
	struct mcfg_entry e[];
} __packed;

static u64 ecam_base;
static u8 ecam_start, ecam_end;
static bool access_probed;

static struct pci_dev devs[PCI_MAX_DEVS];
static int ndevs = -1;

static void probe_access(void)
{
	struct mcfg *m;
	u32 i, n;

	if (access_probed)
		return;
	access_probed = true;
	m = acpi_find_table("MCFG");
	if (!m || m->h.length < sizeof(*m) + sizeof(struct mcfg_entry))
		return;
	n = (m->h.length - sizeof(*m)) / sizeof(struct mcfg_entry);
	for (i = 0; i < n; i++) {
		if (m->e[i].segment == 0 && m->e[i].start_bus == 0) {
			ecam_base = m->e[i].base;
			ecam_start = m->e[i].start_bus;
			ecam_end = m->e[i].end_bus;
			return;
		}
	}
}

const char *pci_access_method(void)
{
	probe_access();
	return ecam_base ? "ecam" : "cf8";
}

static volatile u8 *ecam_addr(u8 bus, u8 dev, u8 fn, u16 off)
{
	return (volatile u8 *)(uintptr_t)(ecam_base + ((u64)(bus - ecam_start) << 20) +
					  ((u64)dev << 15) + ((u64)fn << 12) + off);
}

static bool use_ecam(u8 bus, u16 off)
{
	probe_access();
	if (ecam_base && bus >= ecam_start && bus <= ecam_end)
		return true;
	assert(off < 256);
	return false;
}

static u32 cf8_addr(u8 bus, u8 dev, u8 fn, u16 off)
{
	return 0x80000000u | ((u32)bus << 16) | ((u32)dev << 11) | ((u32)fn << 8) | (off & 0xfc);
}

static u32 raw_read32(u8 bus, u8 dev, u8 fn, u16 off)
{
	if (use_ecam(bus, off))
		return readl(ecam_addr(bus, dev, fn, off));
	outl(cf8_addr(bus, dev, fn, off), 0xcf8);
	return inl(0xcfc);
}

static u16 raw_read16(u8 bus, u8 dev, u8 fn, u16 off)
{
	if (use_ecam(bus, off))
		return readw(ecam_addr(bus, dev, fn, off));
	outl(cf8_addr(bus, dev, fn, off), 0xcf8);
	return inw(0xcfc + (off & 2));
}

static u8 raw_read8(u8 bus, u8 dev, u8 fn, u16 off)
{
	if (use_ecam(bus, off))
		return readb(ecam_addr(bus, dev, fn, off));
	outl(cf8_addr(bus, dev, fn, off), 0xcf8);
	return inb(0xcfc + (off & 3));
}

static void raw_write32(u8 bus, u8 dev, u8 fn, u16 off, u32 v)
{
	if (use_ecam(bus, off)) {
		writel(v, ecam_addr(bus, dev, fn, off));
		return;
	}
	outl(cf8_addr(bus, dev, fn, off), 0xcf8);
	outl(v, 0xcfc);
}

static void raw_write16(u8 bus, u8 dev, u8 fn, u16 off, u16 v)
{
	if (use_ecam(bus, off)) {
		writew(v, ecam_addr(bus, dev, fn, off));
		return;
	}
	outl(cf8_addr(bus, dev, fn, off), 0xcf8);
	outw(v, 0xcfc + (off & 2));
}

static void raw_write8(u8 bus, u8 dev, u8 fn, u16 off, u8 v)
{
	if (use_ecam(bus, off)) {
		writeb(v, ecam_addr(bus, dev, fn, off));
		return;
	}
	outl(cf8_addr(bus, dev, fn, off), 0xcf8);
	outb(v, 0xcfc + (off & 3));
}

u8 pci_read8(struct pci_dev *d, u16 off) { return raw_read8(d->bus, d->dev, d->fn, off); }
u16 pci_read16(struct pci_dev *d, u16 off) { return raw_read16(d->bus, d->dev, d->fn, off); }
u32 pci_read32(struct pci_dev *d, u16 off) { return raw_read32(d->bus, d->dev, d->fn, off); }
void pci_write8(struct pci_dev *d, u16 off, u8 v) { raw_write8(d->bus, d->dev, d->fn, off, v); }
void pci_write16(struct pci_dev *d, u16 off, u16 v) { raw_write16(d->bus, d->dev, d->fn, off, v); }
void pci_write32(struct pci_dev *d, u16 off, u32 v) { raw_write32(d->bus, d->dev, d->fn, off, v); }

/* BARs as the firmware assigned them; sizes probed with decoding off. */
static void read_bars(struct pci_dev *d)
{
	u16 cmd = pci_read16(d, PCI_COMMAND);
	int nbars = (d->header_type & 0x7f) == 0 ? 6 : 2;
	int i;

	pci_write16(d, PCI_COMMAND, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
	for (i = 0; i < nbars; i++) {
		u16 off = PCI_BAR0 + 4 * i;
		u32 lo = pci_read32(d, off), szlo;

		pci_write32(d, off, 0xffffffff);
		szlo = pci_read32(d, off);
		pci_write32(d, off, lo);
		if (lo & 1) {
			d->bar_io[i] = true;
			d->bar[i] = lo & ~3u;
			szlo &= ~3u;
			d->bar_size[i] = szlo ? (u16)(~szlo + 1) : 0;
			continue;
		}
		if (((lo >> 1) & 3) == 2 && i + 1 < nbars) {
			u32 hi = pci_read32(d, off + 4), szhi;
			u64 sz;

			pci_write32(d, off + 4, 0xffffffff);
			szhi = pci_read32(d, off + 4);
			pci_write32(d, off + 4, hi);
			sz = ((u64)szhi << 32) | (szlo & ~0xfu);
			d->bar[i] = ((u64)hi << 32) | (lo & ~0xfu);
			d->bar_size[i] = sz ? ~sz + 1 : 0;
			i++;	/* upper half */
			continue;
		}
		d->bar[i] = lo & ~0xfu;
		szlo &= ~0xfu;
		d->bar_size[i] = szlo ? (u32)(~szlo + 1) : 0;
	}
	pci_write16(d, PCI_COMMAND, cmd);
}

static void scan_bus(u8 bus, int depth);

static void add_fn(u8 bus, u8 dev, u8 fn, int depth)
{
	struct pci_dev *d;
	u32 id = raw_read32(bus, dev, fn, PCI_VENDOR_ID);
	u8 cap;

	if ((id & 0xffff) == 0xffff || ndevs >= PCI_MAX_DEVS)
		return;
	d = &devs[ndevs++];
	d->bus = bus;
	d->dev = dev;
	d->fn = fn;
	d->vendor = id & 0xffff;
	d->device = id >> 16;
	d->revision = pci_read8(d, PCI_REVISION_ID);
	d->class_code = pci_read32(d, 0x08) >> 8;
	d->header_type = pci_read8(d, PCI_HEADER_TYPE);
	if ((d->header_type & 0x7f) == 0) {
		d->subsys_id = pci_read16(d, PCI_SUBSYSTEM_ID);
		d->irq_line = pci_read8(d, PCI_INTERRUPT_LINE);
		d->irq_pin = pci_read8(d, PCI_INTERRUPT_PIN);
	}
	read_bars(d);
	cap = pci_find_cap(d, PCI_CAP_ID_MSIX, 0);
	if (cap) {
		u16 ctl = pci_read16(d, cap + 2);
		u32 tbl = pci_read32(d, cap + 4);

		d->msix_cap = cap;
		d->msix_entries = (ctl & 0x7ff) + 1;
		d->msix_table = (volatile u32 *)(uintptr_t)(d->bar[tbl & 7] + (tbl & ~7u));
		d->msix_enabled = ctl & 0x8000;
	}
	if ((d->header_type & 0x7f) == 1 && depth < 8) {
		u8 sec = pci_read8(d, PCI_SECONDARY_BUS);

		if (sec > bus)
			scan_bus(sec, depth + 1);
	}
}

static void scan_bus(u8 bus, int depth)
{
	u8 dev, fn;

	for (dev = 0; dev < 32; dev++) {
		u32 id = raw_read32(bus, dev, 0, PCI_VENDOR_ID);
		u8 ht;

		if ((id & 0xffff) == 0xffff)
			continue;
		ht = raw_read8(bus, dev, 0, PCI_HEADER_TYPE);
		for (fn = 0; fn < ((ht & 0x80) ? 8 : 1); fn++)
			add_fn(bus, dev, fn, depth);
	}
}

int pci_scan(void)
{
	if (ndevs < 0) {
		ndevs = 0;
		scan_bus(0, 0);
	}
	return ndevs;
}

int pci_count(void) { return pci_scan(); }

struct pci_dev *pci_get(int i)
{
	return i >= 0 && i < pci_scan() ? &devs[i] : NULL;
}

struct pci_dev *pci_find(u16 vendor, u16 device, int n)
{
	int i;

	for (i = 0; i < pci_scan(); i++)
		if (devs[i].vendor == vendor && devs[i].device == device && n-- == 0)
			return &devs[i];
	return NULL;
}

u8 pci_find_cap(struct pci_dev *d, u8 id, u8 start)
{
	u8 pos;
	int guard = 48;

	if (!(pci_read16(d, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	pos = start ? pci_read8(d, start + 1) : pci_read8(d, PCI_CAPABILITY_LIST);
	while (pos >= 0x40 && guard--) {
		pos &= ~3;
		if (pci_read8(d, pos) == id)
			return pos;
		pos = pci_read8(d, pos + 1);
	}
	return 0;
}

void pci_enable(struct pci_dev *d)
{
	u16 cmd = pci_read16(d, PCI_COMMAND);

	pci_write16(d, PCI_COMMAND, cmd | PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

bool pci_msix_enable(struct pci_dev *d)
{
	u16 ctl, i;

	if (!d->msix_cap)
		return false;
	/* function-mask while we program, then mask every entry */
	ctl = pci_read16(d, d->msix_cap + 2);
	pci_write16(d, d->msix_cap + 2, ctl | 0x4000 | 0x8000);
	for (i = 0; i < d->msix_entries; i++)
		pci_msix_mask(d, i, true);
	ctl = pci_read16(d, d->msix_cap + 2);
	pci_write16(d, d->msix_cap + 2, (ctl | 0x8000) & ~0x4000);
	/* MSI-X replaces INTx */
	pci_write16(d, PCI_COMMAND, pci_read16(d, PCI_COMMAND) | PCI_COMMAND_INTX_DISABLE);
	d->msix_enabled = true;
	return true;
}

void pci_msix_disable(struct pci_dev *d)
{
	u16 ctl;

	if (!d->msix_cap)
		return;
	ctl = pci_read16(d, d->msix_cap + 2);
	pci_write16(d, d->msix_cap + 2, ctl & ~0xc000);
	pci_write16(d, PCI_COMMAND, pci_read16(d, PCI_COMMAND) & ~PCI_COMMAND_INTX_DISABLE);
	d->msix_enabled = false;
}

void pci_msix_set(struct pci_dev *d, u16 entry, u64 addr, u32 data, bool masked)
{
	volatile u32 *e = d->msix_table + entry * 4;

	assert(entry < d->msix_entries);
	writel(1, &e[3]);
	writel((u32)addr, &e[0]);
	writel((u32)(addr >> 32), &e[1]);
	writel(data, &e[2]);
	writel(masked ? 1 : 0, &e[3]);
}

void pci_msix_mask(struct pci_dev *d, u16 entry, bool masked)
{
	volatile u32 *e = d->msix_table + entry * 4;

	writel(masked ? 1 : 0, &e[3]);
}
