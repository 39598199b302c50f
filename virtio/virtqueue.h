/*
 * Virtqueues: the split ring (with indirect descriptors and EVENT_IDX) and
 * the packed ring, behind one interface. Buffers are added as scatter lists,
 * completions are taken back with the cookie given at add time, by polling
 * or after an MSI-X interrupt.
 */
#ifndef VIRTIO_VIRTQUEUE_H
#define VIRTIO_VIRTQUEUE_H
#include "types.h"
#include <linux/virtio_ring.h>
#include "virtio/virtio.h"

#define VQ_INDIRECT_MAX 16	/* entries per indirect table */

struct vq_sg {
	u64 addr;
	u32 len;
	bool write;		/* device writes (in-buffer) */
};

struct virtqueue {
	struct virtio_dev *vd;
	u16 index;
	u16 num;		/* ring size */
	bool packed;
	bool event_idx;		/* VIRTIO_F_EVENT_IDX negotiated */
	bool use_indirect;	/* use indirect tables for chains of > 1 */
	u16 num_free;		/* free descriptors */
	void **data;		/* cookie per buffer id */
	u16 *chain;		/* descriptors used by each buffer id */

	/* memory handed to the device */
	u64 desc_pa, driver_pa, device_pa;
	void *ring_mem;
	u64 ring_pages;

	/* split */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	u16 free_head;
	u16 avail_shadow;	/* our avail->idx */
	u16 kicked_avail;	/* avail idx at the last notify decision */
	u16 last_used;

	/* packed */
	struct vring_packed_desc *pdesc;
	struct vring_packed_desc_event *drv_event;	/* driver area */
	struct vring_packed_desc_event *dev_event;	/* device area */
	u16 next_avail;
	bool avail_wrap;
	u16 last_used_p;
	bool used_wrap;
	u16 *free_ids;		/* stack of free buffer ids */
	u16 nfree_ids;
	u16 kicked_next;	/* next_avail at last notify decision */
	bool kicked_wrap;
	u16 added_since_kick;

	/* indirect tables: one of VQ_INDIRECT_MAX entries per buffer id */
	void *indirect;

	/* interrupts */
	u16 msix_entry;		/* VIRTIO_NO_VECTOR when polling */
	int irq;		/* CPU vector or -1 */
	volatile u64 irqs;	/* interrupts taken for this queue */

	/* counters */
	u64 kicks, kicks_suppressed, added, completed;
};

/*
 * Allocate rings for queue idx (size min(max, want); want 0 = device max),
 * with the split or packed layout per the negotiated features, and hand them
 * to the device. Returns NULL on failure.
 */
struct virtqueue *vq_setup(struct virtio_dev *vd, u16 idx, u16 want);
/* make the ring memory and bookkeeping fresh again after a device reset */
void vq_free(struct virtqueue *vq);

/* add one buffer (n entries, out entries first); returns 0, -1 if no room */
int vq_add(struct virtqueue *vq, const struct vq_sg *sg, int n, void *data);
/* notify the device if it wants a notification (EVENT_IDX / flags) */
void vq_kick(struct virtqueue *vq);
/* next completed buffer's cookie (len = bytes written), NULL if none */
void *vq_get_used(struct virtqueue *vq, u32 *len);
bool vq_has_used(struct virtqueue *vq);
/* ask for (or suppress) used-buffer notifications */
void vq_enable_irq(struct virtqueue *vq);
void vq_disable_irq(struct virtqueue *vq);
/* wait for a completion: hlt if the queue has an interrupt, else poll; false on timeout */
bool vq_wait(struct virtqueue *vq, u64 timeout_ms);
static inline bool vq_empty(struct virtqueue *vq) { return vq->num_free == vq->num; }
#endif
