/*
 * RANGES records (docs/protocol.md, PAGE_RANGES): one record per buffer with
 * an entry per run (touching runs merged). Shared pieces in balloon_bitmap.c.
 */
#include "types.h"
#include "virtio/balloon/balloon.h"

u64 balloon_rec_buf_bytes(u64 max_pages);
void balloon_rec_begin(struct balloon_req *r);
u64 balloon_rec_add(struct balloon_req *r, u64 pfn, u64 n,
		    u64 (*add)(struct fb_writer *w, u64 pfn, u64 n, u16 shift));
void balloon_rec_for_each(struct balloon_req *r, balloon_run_fn fn, void *ctx);

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
