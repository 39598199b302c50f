/* virtio 1.x PCI transport (virtio spec 4.1.4): capabilities and common config. */
#include "types.h"
#include "io.h"
#include "report.h"
#include <linux/virtio_pci.h>
#include "virtio/virtio.h"
#include "virtio/virtqueue.h"

#define C(vd, off) ((vd)->common + (off))

static u8 m_get_status(struct virtio_dev *vd) { return readb(C(vd, VIRTIO_PCI_COMMON_STATUS)); }
static void m_set_status(struct virtio_dev *vd, u8 s) { writeb(s, C(vd, VIRTIO_PCI_COMMON_STATUS)); }

static u64 m_get_features(struct virtio_dev *vd)
{
	u64 f;

	writel(0, C(vd, VIRTIO_PCI_COMMON_DFSELECT));
	f = readl(C(vd, VIRTIO_PCI_COMMON_DF));
	writel(1, C(vd, VIRTIO_PCI_COMMON_DFSELECT));
	f |= (u64)readl(C(vd, VIRTIO_PCI_COMMON_DF)) << 32;
	return f;
}

static void m_set_features(struct virtio_dev *vd, u64 f)
{
	writel(0, C(vd, VIRTIO_PCI_COMMON_GFSELECT));
	writel((u32)f, C(vd, VIRTIO_PCI_COMMON_GF));
	writel(1, C(vd, VIRTIO_PCI_COMMON_GFSELECT));
	writel((u32)(f >> 32), C(vd, VIRTIO_PCI_COMMON_GF));
}

static u8 m_generation(struct virtio_dev *vd) { return readb(C(vd, VIRTIO_PCI_COMMON_CFGGENERATION)); }

static u8 m_cr8(struct virtio_dev *vd, u32 o) { return readb(vd->devcfg + o); }
static u16 m_cr16(struct virtio_dev *vd, u32 o) { return readw(vd->devcfg + o); }
static u32 m_cr32(struct virtio_dev *vd, u32 o) { return readl(vd->devcfg + o); }
static void m_cw8(struct virtio_dev *vd, u32 o, u8 v) { writeb(v, vd->devcfg + o); }
static void m_cw16(struct virtio_dev *vd, u32 o, u16 v) { writew(v, vd->devcfg + o); }
static void m_cw32(struct virtio_dev *vd, u32 o, u32 v) { writel(v, vd->devcfg + o); }

static u16 m_num_queues(struct virtio_dev *vd) { return readw(C(vd, VIRTIO_PCI_COMMON_NUMQ)); }

static u16 m_queue_max_size(struct virtio_dev *vd, u16 idx)
{
	writew(idx, C(vd, VIRTIO_PCI_COMMON_Q_SELECT));
	return readw(C(vd, VIRTIO_PCI_COMMON_Q_SIZE));
}

static int m_queue_setup(struct virtio_dev *vd, struct virtqueue *vq)
{
	writew(vq->index, C(vd, VIRTIO_PCI_COMMON_Q_SELECT));
	if (readw(C(vd, VIRTIO_PCI_COMMON_Q_ENABLE)))
		return -1;	/* 4.1.4.3.2: must not be enabled already */
	writew(vq->num, C(vd, VIRTIO_PCI_COMMON_Q_SIZE));
	writel((u32)vq->desc_pa, C(vd, VIRTIO_PCI_COMMON_Q_DESCLO));
	writel((u32)(vq->desc_pa >> 32), C(vd, VIRTIO_PCI_COMMON_Q_DESCHI));
	writel((u32)vq->driver_pa, C(vd, VIRTIO_PCI_COMMON_Q_AVAILLO));
	writel((u32)(vq->driver_pa >> 32), C(vd, VIRTIO_PCI_COMMON_Q_AVAILHI));
	writel((u32)vq->device_pa, C(vd, VIRTIO_PCI_COMMON_Q_USEDLO));
	writel((u32)(vq->device_pa >> 32), C(vd, VIRTIO_PCI_COMMON_Q_USEDHI));
	if (vq->msix_entry != VIRTIO_NO_VECTOR) {
		writew(vq->msix_entry, C(vd, VIRTIO_PCI_COMMON_Q_MSIX));
		if (readw(C(vd, VIRTIO_PCI_COMMON_Q_MSIX)) != vq->msix_entry)
			vq->msix_entry = VIRTIO_NO_VECTOR;
	}
	writew(1, C(vd, VIRTIO_PCI_COMMON_Q_ENABLE));
	return 0;
}

static void m_queue_notify(struct virtio_dev *vd, struct virtqueue *vq)
{
	u16 off;

	writew(vq->index, C(vd, VIRTIO_PCI_COMMON_Q_SELECT));
	off = readw(C(vd, VIRTIO_PCI_COMMON_Q_NOFF));
	writew(vq->index, vd->notify_base + (u64)off * vd->notify_mult);
}

static u16 m_set_config_vector(struct virtio_dev *vd, u16 e)
{
	writew(e, C(vd, VIRTIO_PCI_COMMON_MSIX));
	return readw(C(vd, VIRTIO_PCI_COMMON_MSIX));
}

static u16 m_set_queue_vector(struct virtio_dev *vd, u16 idx, u16 e)
{
	writew(idx, C(vd, VIRTIO_PCI_COMMON_Q_SELECT));
	writew(e, C(vd, VIRTIO_PCI_COMMON_Q_MSIX));
	return readw(C(vd, VIRTIO_PCI_COMMON_Q_MSIX));
}

static u8 m_read_isr(struct virtio_dev *vd) { return readb(vd->isr); }

static const struct virtio_transport modern = {
	.name = "modern",
	.get_status = m_get_status, .set_status = m_set_status,
	.get_features = m_get_features, .set_features = m_set_features,
	.generation = m_generation,
	.cfg_read8 = m_cr8, .cfg_read16 = m_cr16, .cfg_read32 = m_cr32,
	.cfg_write8 = m_cw8, .cfg_write16 = m_cw16, .cfg_write32 = m_cw32,
	.num_queues = m_num_queues, .queue_max_size = m_queue_max_size,
	.queue_setup = m_queue_setup, .queue_notify = m_queue_notify,
	.set_config_vector = m_set_config_vector, .set_queue_vector = m_set_queue_vector,
	.read_isr = m_read_isr,
};

/* 4.1.4: walk the vendor capabilities; the first of each type wins */
int virtio_pci_modern_bind(struct virtio_dev *vd)
{
	struct pci_dev *d = vd->pci;
	u8 pos = 0;

	vd->common = vd->notify_base = vd->isr = vd->devcfg = NULL;
	while ((pos = pci_find_cap(d, PCI_CAP_ID_VNDR, pos))) {
		u8 type = pci_read8(d, pos + VIRTIO_PCI_CAP_CFG_TYPE);
		u8 bar = pci_read8(d, pos + VIRTIO_PCI_CAP_BAR);
		u32 off = pci_read32(d, pos + VIRTIO_PCI_CAP_OFFSET);
		u32 len = pci_read32(d, pos + VIRTIO_PCI_CAP_LENGTH);
		volatile u8 *p;

		if (bar > 5 || d->bar_io[bar] || !d->bar[bar])
			continue;
		if (d->bar_size[bar] && (u64)off + len > d->bar_size[bar])
			continue;
		p = (volatile u8 *)(uintptr_t)(d->bar[bar] + off);
		switch (type) {
		case VIRTIO_PCI_CAP_COMMON_CFG:
			if (!vd->common && len >= sizeof(struct virtio_pci_common_cfg) - 4)
				vd->common = p;
			break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG:
			if (!vd->notify_base) {
				vd->notify_base = p;
				vd->notify_mult = pci_read32(d, pos + VIRTIO_PCI_NOTIFY_CAP_MULT);
			}
			break;
		case VIRTIO_PCI_CAP_ISR_CFG:
			if (!vd->isr)
				vd->isr = p;
			break;
		case VIRTIO_PCI_CAP_DEVICE_CFG:
			if (!vd->devcfg) {
				vd->devcfg = p;
				vd->devcfg_len = len;
			}
			break;
		}
	}
	if (!vd->common || !vd->notify_base || !vd->isr)
		return -1;
	vd->tp = &modern;
	return 0;
}
