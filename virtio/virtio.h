/*
 * Generic virtio device: status handshake, feature negotiation, device
 * configuration access (with the generation loop) and queue setup, on top of
 * a transport (virtio_pci_modern.c or virtio_pci_legacy.c). Rings live in
 * virtqueue.h; device drivers (balloon/) only use this interface.
 */
#ifndef VIRTIO_VIRTIO_H
#define VIRTIO_VIRTIO_H
#include "types.h"
#include <linux/virtio_config.h>
#include "virtio/pci.h"

#define VIRTIO_MAX_QUEUES 8
#define VIRTIO_NO_VECTOR 0xffff

struct virtio_dev;
struct virtqueue;

/* One transport: how status, features, config space and queues are reached. */
struct virtio_transport {
	const char *name;	/* "modern" or "legacy" */
	bool legacy;		/* fixed queue sizes, no FEATURES_OK, 32 feature bits */
	u8 (*get_status)(struct virtio_dev *vd);
	void (*set_status)(struct virtio_dev *vd, u8 status);
	u64 (*get_features)(struct virtio_dev *vd);
	void (*set_features)(struct virtio_dev *vd, u64 features);
	u8 (*generation)(struct virtio_dev *vd);	/* legacy: always 0 */
	u8 (*cfg_read8)(struct virtio_dev *vd, u32 off);
	u16 (*cfg_read16)(struct virtio_dev *vd, u32 off);
	u32 (*cfg_read32)(struct virtio_dev *vd, u32 off);
	void (*cfg_write8)(struct virtio_dev *vd, u32 off, u8 v);
	void (*cfg_write16)(struct virtio_dev *vd, u32 off, u16 v);
	void (*cfg_write32)(struct virtio_dev *vd, u32 off, u32 v);
	u16 (*num_queues)(struct virtio_dev *vd);
	u16 (*queue_max_size)(struct virtio_dev *vd, u16 idx);	/* 0: no such queue */
	/* program and enable queue idx; rings at desc/driver/device; returns 0 or -1 */
	int (*queue_setup)(struct virtio_dev *vd, struct virtqueue *vq);
	void (*queue_notify)(struct virtio_dev *vd, struct virtqueue *vq);
	/* MSI-X vector (table entry) for config changes / a queue; returns the read-back */
	u16 (*set_config_vector)(struct virtio_dev *vd, u16 entry);
	u16 (*set_queue_vector)(struct virtio_dev *vd, u16 idx, u16 entry);
	u8 (*read_isr)(struct virtio_dev *vd);
};

struct virtio_dev {
	struct pci_dev *pci;
	const struct virtio_transport *tp;
	u16 device_id;		/* virtio device type (5 = balloon) */
	u64 features_offered;
	u64 features;		/* negotiated */

	/* modern */
	volatile u8 *common;
	volatile u8 *notify_base;
	u32 notify_mult;
	volatile u8 *isr;
	volatile u8 *devcfg;
	u32 devcfg_len;
	/* legacy */
	u16 iobase;

	/* interrupts */
	bool msix;		/* MSI-X vectors programmed */
	int config_irq;		/* CPU vector for config changes, -1 if none */
	volatile u64 config_changes;	/* config interrupts seen */
	bool intx;		/* INTx routed through the IOAPIC (no MSI-X) */
	int intx_gsi;		/* GSI our interrupts arrived on, -1 until one did */
	volatile u64 queue_irqs;	/* INTx with ISR bit 0 (some queue used a buffer) */

	struct virtqueue *vqs[VIRTIO_MAX_QUEUES];
};

static inline bool virtio_has(const struct virtio_dev *vd, unsigned bit)
{
	return vd->features & (1ull << bit);
}

/* transport choice for virtio_pci_probe */
enum virtio_tp_pref { VIRTIO_TP_AUTO, VIRTIO_TP_MODERN, VIRTIO_TP_LEGACY };

/*
 * Find the n-th virtio PCI function of device type 'type' and bind a
 * transport. Returns 0, or -1 (not found / transport not available).
 */
int virtio_pci_probe(struct virtio_dev *vd, u16 type, int n, enum virtio_tp_pref pref);
int virtio_pci_modern_bind(struct virtio_dev *vd);
int virtio_pci_legacy_bind(struct virtio_dev *vd);

/* reset: write 0 and wait until the device reads 0 */
void virtio_reset(struct virtio_dev *vd);
/*
 * Reset, ACKNOWLEDGE, DRIVER, read offered features, write offered & want,
 * and (modern) FEATURES_OK with read-back. Returns 0, or -1 when the device
 * refused FEATURES_OK (the driver then sets FAILED).
 */
int virtio_negotiate(struct virtio_dev *vd, u64 want);
void virtio_driver_ok(struct virtio_dev *vd);
void virtio_set_failed(struct virtio_dev *vd);
static inline u8 virtio_status(struct virtio_dev *vd) { return vd->tp->get_status(vd); }

/* device config space; the _stable variant loops on config_generation */
static inline u8 virtio_cread8(struct virtio_dev *vd, u32 off) { return vd->tp->cfg_read8(vd, off); }
static inline u16 virtio_cread16(struct virtio_dev *vd, u32 off) { return vd->tp->cfg_read16(vd, off); }
static inline u32 virtio_cread32(struct virtio_dev *vd, u32 off) { return vd->tp->cfg_read32(vd, off); }
static inline void virtio_cwrite8(struct virtio_dev *vd, u32 off, u8 v) { vd->tp->cfg_write8(vd, off, v); }
static inline void virtio_cwrite16(struct virtio_dev *vd, u32 off, u16 v) { vd->tp->cfg_write16(vd, off, v); }
static inline void virtio_cwrite32(struct virtio_dev *vd, u32 off, u32 v) { vd->tp->cfg_write32(vd, off, v); }
/* read 'len' bytes (multiple of 4) as 32-bit reads, consistent across a generation */
void virtio_cread_stable(struct virtio_dev *vd, u32 off, void *buf, u32 len);

/*
 * Interrupts: enable MSI-X and route config changes to a fresh CPU vector.
 * Queues get theirs in vq_setup when vd->msix is set. Returns false when the
 * device has no MSI-X (polling is used then).
 */
bool virtio_setup_msix(struct virtio_dev *vd);
/*
 * INTx, for devices without MSI-X (QEMU's virtio-balloon-pci has none): the
 * q35 PCI interrupt lines are GSIs 16-23 (PIRQA-H); each gets a vector whose
 * handler reads (and so clears) the ISR, which deasserts the level interrupt.
 */
bool virtio_setup_intx(struct virtio_dev *vd);
#endif
