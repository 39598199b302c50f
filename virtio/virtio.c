/* Transport-independent virtio: probe, handshake, config, MSI-X. See virtio.h. */
#include "types.h"
#include "io.h"
#include "irq.h"
#include "report.h"
#include "printf.h"
#include "timer.h"
#include "virtio/virtio.h"
#include "virtio/virtqueue.h"

#define VIRTIO_PCI_VENDOR 0x1af4

int virtio_pci_probe(struct virtio_dev *vd, u16 type, int n, enum virtio_tp_pref pref)
{
	int i;

	for (i = 0; i < pci_count(); i++) {
		struct pci_dev *d = pci_get(i);
		u16 t;

		if (d->vendor != VIRTIO_PCI_VENDOR)
			continue;
		if (d->device >= 0x1040 && d->device <= 0x107f)
			t = d->device - 0x1040;
		else if (d->device >= 0x1000 && d->device <= 0x103f)
			t = d->subsys_id;	/* transitional: type in subsystem id */
		else
			continue;
		if (t != type || n-- > 0)
			continue;

		for (int k = 0; k < VIRTIO_MAX_QUEUES; k++)
			vd->vqs[k] = NULL;
		vd->pci = d;
		vd->device_id = t;
		vd->config_irq = -1;
		vd->msix = false;
		vd->intx = false;
		vd->intx_gsi = -1;
		pci_enable(d);
		if (pref != VIRTIO_TP_LEGACY && virtio_pci_modern_bind(vd) == 0)
			return 0;
		if (pref != VIRTIO_TP_MODERN && virtio_pci_legacy_bind(vd) == 0)
			return 0;
		return -1;
	}
	return -1;
}

void virtio_reset(struct virtio_dev *vd)
{
	u64 t0 = now_ns();

	vd->tp->set_status(vd, 0);
	/* 4.1.4.3.2: after writing 0 the driver waits for a read of 0 */
	while (vd->tp->get_status(vd) != 0) {
		cpu_relax();
		if (now_ns() - t0 > 1000000000ull)
			panic("virtio: device did not complete reset");
	}
}

int virtio_negotiate(struct virtio_dev *vd, u64 want)
{
	u8 st;

	virtio_reset(vd);
	vd->tp->set_status(vd, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	vd->tp->set_status(vd, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	vd->features_offered = vd->tp->get_features(vd);
	vd->features = vd->features_offered & want;
	vd->tp->set_features(vd, vd->features);
	if (!(vd->features & (1ull << VIRTIO_F_VERSION_1)))
		return 0;	/* legacy: no FEATURES_OK step */
	st = vd->tp->get_status(vd);
	vd->tp->set_status(vd, st | VIRTIO_CONFIG_S_FEATURES_OK);
	/* 3.1.1: re-read and make sure FEATURES_OK is still set */
	if (!(vd->tp->get_status(vd) & VIRTIO_CONFIG_S_FEATURES_OK)) {
		virtio_set_failed(vd);
		return -1;
	}
	return 0;
}

void virtio_driver_ok(struct virtio_dev *vd)
{
	vd->tp->set_status(vd, vd->tp->get_status(vd) | VIRTIO_CONFIG_S_DRIVER_OK);
}

void virtio_set_failed(struct virtio_dev *vd)
{
	vd->tp->set_status(vd, vd->tp->get_status(vd) | VIRTIO_CONFIG_S_FAILED);
}

void virtio_cread_stable(struct virtio_dev *vd, u32 off, void *buf, u32 len)
{
	u32 *p = buf;
	u8 g1, g2;

	do {
		g1 = vd->tp->generation(vd);
		for (u32 i = 0; i < len / 4; i++)
			p[i] = vd->tp->cfg_read32(vd, off + 4 * i);
		g2 = vd->tp->generation(vd);
	} while (g1 != g2);
}

static void config_irq(int vector, void *ctx)
{
	struct virtio_dev *vd = ctx;

	(void)vector;
	vd->config_changes++;
}

bool virtio_setup_msix(struct virtio_dev *vd)
{
	int vec;

	if (!vd->pci->msix_cap || vd->pci->msix_entries < 2)
		return false;
	vec = irq_alloc_vector();
	if (vec < 0)
		return false;
	pci_msix_enable(vd->pci);
	irq_set_handler(vec, config_irq, vd);
	pci_msix_set(vd->pci, 0, msi_address(), msi_data(vec), false);
	vd->config_irq = vec;
	vd->msix = true;
	if (vd->tp->set_config_vector(vd, 0) != 0) {
		vd->msix = false;
		return false;
	}
	return true;
}

#define INTX_GSI_FIRST 16
#define INTX_GSI_N 8
static struct virtio_dev *intx_dev;
static int intx_vec[INTX_GSI_N];

static void intx_irq(int vector, void *ctx)
{
	struct virtio_dev *vd = ctx;
	u8 isr = vd->tp->read_isr(vd);	/* 4.1.4.5: reading clears it and deasserts the line */

	if (!isr)
		return;	/* another device on a shared line */
	for (int i = 0; i < INTX_GSI_N; i++)
		if (intx_vec[i] == vector)
			vd->intx_gsi = INTX_GSI_FIRST + i;
	if (isr & 1)
		vd->queue_irqs++;
	if (isr & 0x2 /* VIRTIO_PCI_ISR_CONFIG */)
		vd->config_changes++;
}

bool virtio_setup_intx(struct virtio_dev *vd)
{
	if (intx_dev && intx_dev != vd)
		return false;
	if (!intx_dev) {
		for (int i = 0; i < INTX_GSI_N; i++) {
			intx_vec[i] = irq_alloc_vector();
			if (intx_vec[i] < 0)
				return false;
			irq_set_handler(intx_vec[i], intx_irq, vd);
			ioapic_route(INTX_GSI_FIRST + i, intx_vec[i], true, false);
			ioapic_mask(INTX_GSI_FIRST + i, false);
		}
		intx_dev = vd;
	}
	pci_write16(vd->pci, PCI_COMMAND, pci_read16(vd->pci, PCI_COMMAND) & ~PCI_COMMAND_INTX_DISABLE);
	vd->intx = true;
	return true;
}
