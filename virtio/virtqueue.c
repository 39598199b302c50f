/*
 * Split (virtio spec 2.7) and packed (2.8) virtqueues behind one interface.
 * Notification suppression: the used-ring flags / avail_event (EVENT_IDX) for
 * split, the device event structure for packed. Memory comes zeroed and
 * identity-mapped from the page allocator.
 */
#include "types.h"
#include "io.h"
#include "irq.h"
#include "pages.h"
#include "string.h"
#include "timer.h"
#include "report.h"
#include "virtio/virtqueue.h"

#define AVAIL_BIT (1u << VRING_PACKED_DESC_F_AVAIL)
#define USED_BIT (1u << VRING_PACKED_DESC_F_USED)

static void vq_irq(int vector, void *ctx)
{
	struct virtqueue *vq = ctx;

	(void)vector;
	vq->irqs++;
}

static u64 pages_for(u64 bytes) { return (bytes + PAGE_SIZE - 1) / PAGE_SIZE; }

struct virtqueue *vq_setup(struct virtio_dev *vd, u16 idx, u16 want)
{
	u16 max = vd->tp->queue_max_size(vd, idx);
	struct virtqueue *vq;
	u64 meta_bytes, meta_pages, ring_bytes;
	u16 num;
	u8 *meta;

	if (!max || idx >= VIRTIO_MAX_QUEUES)
		return NULL;
	num = max;
	if (!vd->tp->legacy && want && want < max) {
		/* modern: the driver may pick a smaller size (power of 2 for split) */
		num = want;
		if (!virtio_has(vd, VIRTIO_F_RING_PACKED))
			while (num & (num - 1))
				num &= num - 1;
	}
	meta_bytes = ALIGN_UP(sizeof(*vq), 64) + (u64)num * (sizeof(void *) + 2 * sizeof(u16));
	meta_pages = pages_for(meta_bytes);
	meta = pages_alloc(meta_pages);
	if (!meta)
		return NULL;
	vq = (struct virtqueue *)meta;
	vq->data = (void **)(meta + ALIGN_UP(sizeof(*vq), 64));
	vq->chain = (u16 *)(vq->data + num);
	vq->free_ids = vq->chain + num;
	vq->vd = vd;
	vq->index = idx;
	vq->num = num;
	vq->packed = virtio_has(vd, VIRTIO_F_RING_PACKED);
	vq->event_idx = virtio_has(vd, VIRTIO_RING_F_EVENT_IDX);
	vq->use_indirect = virtio_has(vd, VIRTIO_RING_F_INDIRECT_DESC);
	vq->num_free = num;
	vq->irq = -1;
	vq->msix_entry = VIRTIO_NO_VECTOR;

	if (vq->packed) {
		u64 evoff = ALIGN_UP((u64)num * sizeof(struct vring_packed_desc), 64);

		ring_bytes = evoff + 2 * 64;
		vq->ring_pages = pages_for(ring_bytes);
		vq->ring_mem = pages_alloc(vq->ring_pages);
		if (!vq->ring_mem)
			return NULL;
		vq->pdesc = vq->ring_mem;
		vq->drv_event = (void *)((u8 *)vq->ring_mem + evoff);
		vq->dev_event = (void *)((u8 *)vq->ring_mem + evoff + 64);
		vq->desc_pa = virt_to_phys(vq->pdesc);
		vq->driver_pa = virt_to_phys(vq->drv_event);
		vq->device_pa = virt_to_phys(vq->dev_event);
		vq->avail_wrap = vq->used_wrap = vq->kicked_wrap = true;
		for (u16 i = 0; i < num; i++)
			vq->free_ids[i] = num - 1 - i;
		vq->nfree_ids = num;
		vq->drv_event->flags = VRING_PACKED_EVENT_FLAG_DISABLE;
	} else {
		struct vring vr;

		ring_bytes = vring_size(num, 4096);
		vq->ring_pages = pages_for(ring_bytes);
		vq->ring_mem = pages_alloc(vq->ring_pages);
		if (!vq->ring_mem)
			return NULL;
		vring_init(&vr, num, vq->ring_mem, 4096);
		vq->desc = vr.desc;
		vq->avail = vr.avail;
		vq->used = vr.used;
		for (u16 i = 0; i + 1 < num; i++)
			vq->desc[i].next = i + 1;
		vq->free_head = 0;
		vq->desc_pa = virt_to_phys(vq->desc);
		vq->driver_pa = virt_to_phys(vq->avail);
		vq->device_pa = virt_to_phys(vq->used);
		vq->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
		if (vq->event_idx) {
			vq->avail->flags = 0;	/* 2.7.10: flags are 0 with EVENT_IDX */
			vring_used_event(&vr) = 0x7fff;
		}
	}
	if (vq->use_indirect) {
		vq->indirect = pages_alloc(pages_for((u64)num * VQ_INDIRECT_MAX * 16));
		if (!vq->indirect)
			vq->use_indirect = false;
	}
	if (vd->msix && idx + 1u < vd->pci->msix_entries) {
		int vec = irq_alloc_vector();

		if (vec >= 0) {
			irq_set_handler(vec, vq_irq, vq);
			pci_msix_set(vd->pci, idx + 1, msi_address(), msi_data(vec), false);
			vq->irq = vec;
			vq->msix_entry = idx + 1;
		}
	}
	if (vd->tp->queue_setup(vd, vq) != 0)
		return NULL;
	vd->vqs[idx] = vq;
	return vq;
}

void vq_free(struct virtqueue *vq)
{
	u64 meta_bytes = ALIGN_UP(sizeof(*vq), 64) + (u64)vq->num * (sizeof(void *) + 2 * sizeof(u16));

	if (vq->vd->vqs[vq->index] == vq)
		vq->vd->vqs[vq->index] = NULL;
	if (vq->indirect)
		pages_free(vq->indirect, pages_for((u64)vq->num * VQ_INDIRECT_MAX * 16));
	pages_free(vq->ring_mem, vq->ring_pages);
	pages_free(vq, pages_for(meta_bytes));
}

/* ---- split ring ---- */

static int split_add(struct virtqueue *vq, const struct vq_sg *sg, int n, void *data)
{
	bool indirect = vq->use_indirect && n > 1 && n <= VQ_INDIRECT_MAX;
	u16 need = indirect ? 1 : n, head = vq->free_head, i = head, last = head;

	if (n < 1 || vq->num_free < need)
		return -1;
	if (indirect) {
		struct vring_desc *t = (struct vring_desc *)vq->indirect + (u64)head * VQ_INDIRECT_MAX;

		for (int k = 0; k < n; k++) {
			t[k].addr = sg[k].addr;
			t[k].len = sg[k].len;
			t[k].flags = (sg[k].write ? VRING_DESC_F_WRITE : 0) | (k + 1 < n ? VRING_DESC_F_NEXT : 0);
			t[k].next = k + 1;
		}
		vq->desc[head].addr = virt_to_phys(t);
		vq->desc[head].len = n * sizeof(*t);
		vq->desc[head].flags = VRING_DESC_F_INDIRECT;
		vq->free_head = vq->desc[head].next;
	} else {
		for (int k = 0; k < n; k++) {
			vq->desc[i].addr = sg[k].addr;
			vq->desc[i].len = sg[k].len;
			vq->desc[i].flags = (sg[k].write ? VRING_DESC_F_WRITE : 0) | (k + 1 < n ? VRING_DESC_F_NEXT : 0);
			last = i;
			i = vq->desc[i].next;
		}
		vq->free_head = i;
		(void)last;
	}
	vq->num_free -= need;
	vq->data[head] = data;
	vq->chain[head] = need;
	vq->avail->ring[vq->avail_shadow & (vq->num - 1)] = head;
	barrier();	/* ring entry before idx (x86 keeps store order) */
	vq->avail_shadow++;
	*(volatile u16 *)&vq->avail->idx = vq->avail_shadow;
	return 0;
}

static bool split_kick_needed(struct virtqueue *vq)
{
	u16 old = vq->kicked_avail, new = vq->avail_shadow;
	bool need;

	mb();	/* publish avail idx before reading the device's suppression state */
	if (vq->event_idx)
		need = vring_need_event(*(volatile u16 *)&vq->used->ring[vq->num], new, old);
	else
		need = !(*(volatile u16 *)&vq->used->flags & VRING_USED_F_NO_NOTIFY);
	vq->kicked_avail = new;
	return need;
}

static bool split_has_used(struct virtqueue *vq)
{
	return *(volatile u16 *)&vq->used->idx != vq->last_used;
}

static void *split_get_used(struct virtqueue *vq, u32 *len)
{
	struct vring_used_elem *e;
	u16 id, i;
	void *data;

	if (!split_has_used(vq))
		return NULL;
	rmb();
	e = &vq->used->ring[vq->last_used & (vq->num - 1)];
	id = e->id;
	if (len)
		*len = e->len;
	assert(id < vq->num && vq->chain[id]);
	data = vq->data[id];
	i = id;
	while (vq->desc[i].flags & VRING_DESC_F_NEXT)
		i = vq->desc[i].next;
	vq->desc[i].next = vq->free_head;
	vq->free_head = id;
	vq->num_free += vq->chain[id];
	vq->chain[id] = 0;
	vq->last_used++;
	return data;
}

/* ---- packed ring ---- */

static int packed_add(struct virtqueue *vq, const struct vq_sg *sg, int n, void *data)
{
	bool indirect = vq->use_indirect && n > 1 && n <= VQ_INDIRECT_MAX;
	u16 need = indirect ? 1 : n, head = vq->next_avail, id, head_flags = 0;

	if (n < 1 || vq->num_free < need || !vq->nfree_ids)
		return -1;
	id = vq->free_ids[--vq->nfree_ids];
	if (indirect) {
		struct vring_packed_desc *t = (struct vring_packed_desc *)vq->indirect + (u64)id * VQ_INDIRECT_MAX;

		for (int k = 0; k < n; k++) {
			t[k].addr = sg[k].addr;
			t[k].len = sg[k].len;
			t[k].id = id;
			t[k].flags = sg[k].write ? VRING_DESC_F_WRITE : 0;
		}
		vq->pdesc[head].addr = virt_to_phys(t);
		vq->pdesc[head].len = n * sizeof(*t);
		vq->pdesc[head].id = id;
		head_flags = VRING_DESC_F_INDIRECT | (vq->avail_wrap ? AVAIL_BIT : USED_BIT);
		if (++vq->next_avail == vq->num) {
			vq->next_avail = 0;
			vq->avail_wrap = !vq->avail_wrap;
		}
	} else {
		for (int k = 0; k < n; k++) {
			u16 pos = vq->next_avail;
			u16 f = (sg[k].write ? VRING_DESC_F_WRITE : 0) | (k + 1 < n ? VRING_DESC_F_NEXT : 0) |
				(vq->avail_wrap ? AVAIL_BIT : USED_BIT);

			vq->pdesc[pos].addr = sg[k].addr;
			vq->pdesc[pos].len = sg[k].len;
			vq->pdesc[pos].id = id;
			if (k == 0)
				head_flags = f;
			else
				vq->pdesc[pos].flags = f;
			if (++vq->next_avail == vq->num) {
				vq->next_avail = 0;
				vq->avail_wrap = !vq->avail_wrap;
			}
		}
	}
	vq->num_free -= need;
	vq->added_since_kick += need;
	vq->data[id] = data;
	vq->chain[id] = need;
	barrier();	/* the head's flags make the whole chain visible: write them last */
	*(volatile u16 *)&vq->pdesc[head].flags = head_flags;
	return 0;
}

static bool packed_kick_needed(struct virtqueue *vq)
{
	u16 new = vq->next_avail, old = new - vq->added_since_kick, flags, off_wrap, ev;
	bool need;

	mb();
	flags = *(volatile u16 *)&vq->dev_event->flags;
	off_wrap = *(volatile u16 *)&vq->dev_event->off_wrap;
	if (flags == VRING_PACKED_EVENT_FLAG_DESC && vq->event_idx) {
		ev = off_wrap & 0x7fff;
		if ((bool)(off_wrap >> 15) != vq->avail_wrap)
			ev -= vq->num;
		need = vring_need_event(ev, new, old);
	} else {
		need = flags != VRING_PACKED_EVENT_FLAG_DISABLE;
	}
	vq->added_since_kick = 0;
	return need;
}

static bool packed_has_used(struct virtqueue *vq)
{
	u16 f = *(volatile u16 *)&vq->pdesc[vq->last_used_p].flags;
	bool a = f & AVAIL_BIT, u = f & USED_BIT;

	return a == u && u == vq->used_wrap;
}

static void *packed_get_used(struct virtqueue *vq, u32 *len)
{
	struct vring_packed_desc *d;
	u16 id;
	void *data;

	if (!packed_has_used(vq))
		return NULL;
	rmb();
	d = &vq->pdesc[vq->last_used_p];
	id = d->id;
	if (len)
		*len = d->len;
	assert(id < vq->num && vq->chain[id]);
	data = vq->data[id];
	vq->last_used_p += vq->chain[id];
	if (vq->last_used_p >= vq->num) {
		vq->last_used_p -= vq->num;
		vq->used_wrap = !vq->used_wrap;
	}
	vq->num_free += vq->chain[id];
	vq->chain[id] = 0;
	vq->free_ids[vq->nfree_ids++] = id;
	if (vq->event_idx && vq->drv_event->flags == VRING_PACKED_EVENT_FLAG_DESC)
		vq->drv_event->off_wrap = vq->last_used_p | ((u16)vq->used_wrap << 15);
	return data;
}

/* ---- common ---- */

int vq_add(struct virtqueue *vq, const struct vq_sg *sg, int n, void *data)
{
	int r = vq->packed ? packed_add(vq, sg, n, data) : split_add(vq, sg, n, data);

	if (!r)
		vq->added++;
	return r;
}

void vq_kick(struct virtqueue *vq)
{
	bool need = vq->packed ? packed_kick_needed(vq) : split_kick_needed(vq);

	if (need) {
		vq->kicks++;
		vq->vd->tp->queue_notify(vq->vd, vq);
	} else {
		vq->kicks_suppressed++;
	}
}

bool vq_has_used(struct virtqueue *vq)
{
	return vq->packed ? packed_has_used(vq) : split_has_used(vq);
}

void *vq_get_used(struct virtqueue *vq, u32 *len)
{
	void *d = vq->packed ? packed_get_used(vq, len) : split_get_used(vq, len);

	if (d)
		vq->completed++;
	return d;
}

void vq_enable_irq(struct virtqueue *vq)
{
	if (vq->packed) {
		if (vq->event_idx) {
			vq->drv_event->off_wrap = vq->last_used_p | ((u16)vq->used_wrap << 15);
			barrier();
			vq->drv_event->flags = VRING_PACKED_EVENT_FLAG_DESC;
		} else {
			vq->drv_event->flags = VRING_PACKED_EVENT_FLAG_ENABLE;
		}
	} else if (vq->event_idx) {
		*(volatile u16 *)&vq->avail->ring[vq->num] = vq->last_used;
	} else {
		*(volatile u16 *)&vq->avail->flags = 0;
	}
	mb();
}

void vq_disable_irq(struct virtqueue *vq)
{
	if (vq->packed)
		vq->drv_event->flags = VRING_PACKED_EVENT_FLAG_DISABLE;
	else if (vq->event_idx)
		*(volatile u16 *)&vq->avail->ring[vq->num] = vq->last_used + 0x7fff;
	else
		*(volatile u16 *)&vq->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
}

bool vq_wait(struct virtqueue *vq, u64 timeout_ms)
{
	u64 t0 = now_ns();

	while (!vq_has_used(vq)) {
		if (now_ns() - t0 > timeout_ms * 1000000ull)
			return false;
		cpu_relax();
	}
	return true;
}
