/*
 * RANGES records (docs/protocol.md, PAGE_RANGES): one record per buffer with
 * an entry per run (touching runs merged). Shared pieces in bitmap.c.
 */
#include "types.h"
#include "virtio/balloon/internal.h"

static u64 ranges_add(struct balloon_req *r, u64 pfn, u64 n)
{
	return balloon_rec_add(r, pfn, n, fb_add_ranges);
}

const struct balloon_encoder balloon_ranges_encoder = {
	.name = "ranges",
	.buf_bytes = balloon_rec_buf_bytes,
	.begin = balloon_rec_begin,
	.add = ranges_add,
	.for_each = balloon_rec_for_each,
};
