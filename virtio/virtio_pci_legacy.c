/*
 * Legacy virtio PCI transport (virtio spec 4.1.4.8, "Legacy Interfaces: A
 * Note on PCI Device Layout"): everything in I/O BAR 0. The device config
 * starts at 20, or at 24 while MSI-X is enabled on the function.
 */
#include "types.h"
#include "io.h"
#include "report.h"
#include <linux/virtio_pci.h>
#include "virtio/virtio.h"
#include "virtio/virtqueue.h"

static u16 cfg_port(struct virtio_dev *vd, u32 off)
{
	return vd->iobase + VIRTIO_PCI_CONFIG_OFF(vd->pci->msix_enabled) + off;
}

static u8 l_get_status(struct virtio_dev *vd) { return inb(vd->iobase + VIRTIO_PCI_STATUS); }
static void l_set_status(struct virtio_dev *vd, u8 s) { outb(s, vd->iobase + VIRTIO_PCI_STATUS); }
static u64 l_get_features(struct virtio_dev *vd) { return inl(vd->iobase + VIRTIO_PCI_HOST_FEATURES); }
static void l_set_features(struct virtio_dev *vd, u64 f) { outl((u32)f, vd->iobase + VIRTIO_PCI_GUEST_FEATURES); }
static u8 l_generation(struct virtio_dev *vd) { (void)vd; return 0; }
static u8 l_cr8(struct virtio_dev *vd, u32 o) { return inb(cfg_port(vd, o)); }
static u16 l_cr16(struct virtio_dev *vd, u32 o) { return inw(cfg_port(vd, o)); }
static u32 l_cr32(struct virtio_dev *vd, u32 o) { return inl(cfg_port(vd, o)); }
static void l_cw8(struct virtio_dev *vd, u32 o, u8 v) { outb(v, cfg_port(vd, o)); }
static void l_cw16(struct virtio_dev *vd, u32 o, u16 v) { outw(v, cfg_port(vd, o)); }
static void l_cw32(struct virtio_dev *vd, u32 o, u32 v) { outl(v, cfg_port(vd, o)); }

static u16 l_queue_max_size(struct virtio_dev *vd, u16 idx)
{
	outw(idx, vd->iobase + VIRTIO_PCI_QUEUE_SEL);
	return inw(vd->iobase + VIRTIO_PCI_QUEUE_NUM);
}

static u16 l_num_queues(struct virtio_dev *vd)
{
	u16 n = 0;

	while (n < VIRTIO_MAX_QUEUES && l_queue_max_size(vd, n))
		n++;
	return n;
}

static int l_queue_setup(struct virtio_dev *vd, struct virtqueue *vq)
{
	outw(vq->index, vd->iobase + VIRTIO_PCI_QUEUE_SEL);
	if (inw(vd->iobase + VIRTIO_PCI_QUEUE_NUM) != vq->num)
		return -1;	/* legacy queues have a fixed size */
	if (vq->desc_pa >> (32 + VIRTIO_PCI_QUEUE_ADDR_SHIFT))
		return -1;
	if (vq->msix_entry != VIRTIO_NO_VECTOR) {
		outw(vq->msix_entry, vd->iobase + VIRTIO_MSI_QUEUE_VECTOR);
		if (inw(vd->iobase + VIRTIO_MSI_QUEUE_VECTOR) != vq->msix_entry)
			vq->msix_entry = VIRTIO_NO_VECTOR;
	}
	outl((u32)(vq->desc_pa >> VIRTIO_PCI_QUEUE_ADDR_SHIFT), vd->iobase + VIRTIO_PCI_QUEUE_PFN);
	return 0;
}

static void l_queue_notify(struct virtio_dev *vd, struct virtqueue *vq)
{
	outw(vq->index, vd->iobase + VIRTIO_PCI_QUEUE_NOTIFY);
}

static u16 l_set_config_vector(struct virtio_dev *vd, u16 e)
{
	outw(e, vd->iobase + VIRTIO_MSI_CONFIG_VECTOR);
	return inw(vd->iobase + VIRTIO_MSI_CONFIG_VECTOR);
}

static u16 l_set_queue_vector(struct virtio_dev *vd, u16 idx, u16 e)
{
	outw(idx, vd->iobase + VIRTIO_PCI_QUEUE_SEL);
	outw(e, vd->iobase + VIRTIO_MSI_QUEUE_VECTOR);
	return inw(vd->iobase + VIRTIO_MSI_QUEUE_VECTOR);
}

static u8 l_read_isr(struct virtio_dev *vd) { return inb(vd->iobase + VIRTIO_PCI_ISR); }

static const struct virtio_transport legacy = {
	.name = "legacy", .legacy = true,
	.get_status = l_get_status, .set_status = l_set_status,
	.get_features = l_get_features, .set_features = l_set_features,
	.generation = l_generation,
	.cfg_read8 = l_cr8, .cfg_read16 = l_cr16, .cfg_read32 = l_cr32,
	.cfg_write8 = l_cw8, .cfg_write16 = l_cw16, .cfg_write32 = l_cw32,
	.num_queues = l_num_queues, .queue_max_size = l_queue_max_size,
	.queue_setup = l_queue_setup, .queue_notify = l_queue_notify,
	.set_config_vector = l_set_config_vector, .set_queue_vector = l_set_queue_vector,
	.read_isr = l_read_isr,
};

int virtio_pci_legacy_bind(struct virtio_dev *vd)
{
	struct pci_dev *d = vd->pci;

	/* only transitional devices (0x1000-0x103f) have the legacy interface */
	if (d->device >= 0x1040 || !d->bar_io[0] || !d->bar[0])
		return -1;
	vd->iobase = d->bar[0];
	vd->tp = &legacy;
	return 0;
}
