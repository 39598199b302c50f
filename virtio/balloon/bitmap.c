/*
 * BITMAP records (docs/protocol.md, PAGE_BITMAP): one record per cluster of
 * pages, several per buffer when the set is sparse; bits of long runs are
 * set a word at a time (virtio/fb_records.c). Also the pieces both record
 * encoders share: page_shift > 12 for the aligned middle of a run, and
 * reading a request back.
 */
#include "types.h"
#include "report.h"
#include "virtio/balloon/internal.h"

u64 balloon_rec_buf_bytes(u64 max_pages) { (void)max_pages; return 0; /* set from opts.buf_bytes */ }

void balloon_rec_begin(struct balloon_req *r)
{
	fb_writer_init(&r->w, r->buf, r->buf_cap);
	r->len = 0;
	r->pages = 0;
}

/* [pfn, pfn+n) in 4 KiB pages: the 2^page_shift-aligned middle in big pages, the rest in 4 KiB */
u64 balloon_rec_add(struct balloon_req *r, u64 pfn, u64 n,
		    u64 (*add)(struct fb_writer *w, u64 pfn, u64 n, u16 shift))
{
	u16 shift = r->b->o.page_shift;
	u64 left = MIN(n, r->max_pages - r->pages), done = 0;

	pfn += r->skew;
	if (shift > 12) {
		u64 g = 1ull << (shift - 12), a = ALIGN_UP(pfn, g), e = ALIGN_DOWN(pfn + left, g);

		if (a < e) {
			u64 head = a - pfn, t;

			if (head) {
				t = add(&r->w, pfn, head, 12);
				done += t;
				if (t < head)
					goto out;
			}
			t = add(&r->w, a >> (shift - 12), (e - a) / g, shift);
			done += t * g;
			if (t < (e - a) / g)
				goto out;
			pfn = e;
			left -= head + (e - a);
		}
	}
	if (left)
		done += add(&r->w, pfn, left, 12);
out:
	r->pages += done;
	r->len = r->w.len;
	return done;
}

struct skew_ctx {
	balloon_run_fn fn;
	void *ctx;
	u64 skew;
};

static void unskew(u64 pfn, u64 n, void *c)
{
	struct skew_ctx *s = c;

	s->fn(pfn - s->skew, n, s->ctx);
}

void balloon_rec_for_each(struct balloon_req *r, balloon_run_fn fn, void *ctx)
{
	struct skew_ctx s = { fn, ctx, r->skew };

	if (fb_for_each(r->buf, r->len, unskew, &s) < 0)
		panic("balloon: request %p does not read back as records", r->buf);
}

static u64 bitmap_add(struct balloon_req *r, u64 pfn, u64 n)
{
	return balloon_rec_add(r, pfn, n, fb_add_bitmap);
}

const struct balloon_encoder balloon_bitmap_encoder = {
	.name = "bitmap",
	.buf_bytes = balloon_rec_buf_bytes,
	.begin = balloon_rec_begin,
	.add = bitmap_add,
	.for_each = balloon_rec_for_each,
};
