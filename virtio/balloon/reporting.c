/* Free page reporting (5.5.6.7). */
#include "types.h"
#include "virtio/balloon/internal.h"

int balloon_report(struct balloon *b, u64 pfn, u64 n)
{
	struct vq_sg sg = { pfn << PAGE_SHIFT, n * PAGE_SIZE, true };
	u32 len;

	if (!b->rvq)
		return -1;
	poison_pages(b, pfn, n);	/* 5.5.6.7.1 */
	if (vq_add(b->rvq, &sg, 1, b))
		return -1;
	vq_kick(b->rvq);
	if (!vq_wait(b->rvq, WAIT_MS))
		return -1;
	vq_get_used(b->rvq, &len);
	return 0;
}
