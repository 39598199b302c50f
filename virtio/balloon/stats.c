/* The statistics queue (5.5.6.3): one buffer, refilled each time the device uses it. */
#include "types.h"
#include "io.h"
#include "pages.h"
#include "report.h"
#include "virtio/balloon/internal.h"

void balloon_stats_default_values(struct balloon *b)
{
	for (int i = 0; i < VIRTIO_BALLOON_S_NR; i++)
		b->stats_val[i] = 0x1000 * (i + 1) + b->stats_rounds;
	b->stats_val[VIRTIO_BALLOON_S_MEMFREE] = pool_free_pages(&guest_pool) * PAGE_SIZE;
	b->stats_val[VIRTIO_BALLOON_S_MEMTOT] = guest_pool.nr_usable * PAGE_SIZE;
	b->stats_val[VIRTIO_BALLOON_S_AVAIL] = pool_free_pages(&guest_pool) * PAGE_SIZE;
}

static u32 stats_fill(struct balloon *b)
{
	struct virtio_balloon_stat *s = b->stats_buf;
	u32 n = 0;

	/* one tag the device does not know, which it must ignore (5.5.6.3.2) ... */
	s[n].tag = 0x7ff0;
	s[n].val = 0xdeadbeef;
	n++;
	/* ... then every standard tag, highest first (devices accept any order) */
	for (int i = VIRTIO_BALLOON_S_NR - 1; i >= 0; i--) {
		s[n].tag = i;
		s[n].val = b->stats_val[i] + (brk(b, BRK_STATS_VALUES) ? 1 : 0);
		n++;
	}
	/* break=stats-len: cut the last entry short (D7: length a multiple of the entry size) */
	return n * sizeof(*s) - (brk(b, BRK_STATS_LEN) ? 4 : 0);
}

void stats_post(struct balloon *b)
{
	struct vq_sg sg = { virt_to_phys(b->stats_buf), stats_fill(b), false };

	assert(vq_empty(b->svq));	/* 5.5.6.3.1: at most one buffer */
	if (vq_add(b->svq, &sg, 1, b->stats_buf))
		panic("balloon: stats queue full");
	b->stats_posted = true;
}

bool balloon_stats_poll(struct balloon *b)
{
	u32 len;

	if (!b->svq || !vq_get_used(b->svq, &len))
		return false;
	b->stats_rounds++;
	stats_post(b);
	vq_kick(b->svq);
	return true;
}
