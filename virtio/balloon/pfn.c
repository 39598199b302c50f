/*
 * The standard request format: an array of 32-bit page frame numbers
 * (address >> VIRTIO_BALLOON_PFN_SHIFT), virtio spec 5.5.6. One store per
 * page is the format's inherent cost; nothing else here is per page.
 */
#include "types.h"
#include "virtio/balloon/internal.h"

static u64 pfn_buf_bytes(u64 max_pages) { return max_pages * sizeof(u32); }

static void pfn_begin(struct balloon_req *r)
{
	r->len = 0;
	r->pages = 0;
}

static u64 pfn_add(struct balloon_req *r, u64 pfn, u64 n)
{
	u32 *a = (u32 *)r->buf + r->pages;
	u64 room = r->max_pages - r->pages, take = n < room ? n : room;

	for (u64 i = 0; i < take; i++)
		a[i] = (u32)(pfn + i + r->skew);
	r->pages += take;
	r->len = r->pages * sizeof(u32);
	return take;
}

static void pfn_for_each(struct balloon_req *r, balloon_run_fn fn, void *ctx)
{
	const u32 *a = r->buf;
	u64 i = 0;

	while (i < r->pages) {
		u64 start = a[i], n = 1;

		while (i + n < r->pages && a[i + n] == start + n)
			n++;
		fn(start - r->skew, n, ctx);
		i += n;
	}
}

const struct balloon_encoder balloon_pfn_encoder = {
	.name = "pfn",
	.buf_bytes = pfn_buf_bytes,
	.begin = pfn_begin,
	.add = pfn_add,
	.for_each = pfn_for_each,
};
