/* FREE_PAGES answers (FB-D10, FB-D11): the pool's free pages as records. */
#include "types.h"
#include "pages.h"
#include "string.h"
#include "timer.h"
#include "virtio/balloon/internal.h"

#define FP_CHUNK_WORDS 512	/* bitmap words per BITMAP record at most (128 MiB of pages) */

struct fp_ans {
	struct balloon *b;
	u64 id;
	u16 type;		/* FB_REC_BITMAP or FB_REC_RANGES, as negotiated */
	u64 len;		/* bytes in fp_buf */
	bool cancelled;
	struct fb_writer w;	/* RANGES */
};

/* the record writer builds inflate records (req_id 0): tag them with the request's id */
static void fp_tag(struct fp_ans *a)
{
	for (u64 off = 0; off + sizeof(struct fb_hdr) <= a->len;) {
		struct fb_hdr *h = (struct fb_hdr *)(a->b->fp_buf + off);

		h->req_id = a->id;
		off += sizeof(*h) + h->len;
	}
}

/* RANGES: the writer's records are the buffer so far */
static void fp_take_ranges(struct fp_ans *a)
{
	a->len = a->w.len;
	a->b->hs.records += a->w.records;
	fp_tag(a);
}

/* send the buffer so far; between buffers, look for a CANCEL of this answer */
static void fp_flush(struct fp_ans *a)
{
	struct balloon *b = a->b;

	if (a->w.buf)
		fp_take_ranges(a);
	if (a->len) {
		resp_send(b, b->fp_buf, a->len);
		b->hs.buffers++;
	}
	a->len = 0;
	if (a->w.buf)
		fb_writer_init(&a->w, b->fp_buf, b->fp_buf_cap);
	hreq_collect(b);
	if (!a->cancelled && !brk(b, BRK_NO_DONE) && hreq_take_cancel(b, a->id)) {
		a->cancelled = true;
		b->hs.cancels++;
		b->hs.cut_short++;
	}
}

static void fp_add_ranges(struct fp_ans *a, u64 pfn, u64 n)
{
	while (n && !a->cancelled) {
		u64 t = fb_add_ranges(&a->w, pfn, n, 12);

		pfn += t;
		n -= t;
		if (n)
			fp_flush(a);
	}
}

static void fp_add_bits(struct fp_ans *a, u64 pfn, u64 n)
{
	struct balloon *b = a->b;

	while (n && !a->cancelled) {
		u64 words = MIN((n + 63) / 64, (u64)FP_CHUNK_WORDS), bits = MIN(n, words * 64);
		u64 need = sizeof(struct fb_hdr) + words * 8;
		u64 *p;

		if (a->len + need > b->fp_buf_cap)
			fp_flush(a);
		p = (u64 *)(b->fp_buf + a->len + put_rec(b->fp_buf + a->len, FB_REC_BITMAP, 0, a->id, pfn, words * 8) -
			    words * 8);
		memset(p, 0, words * 8);
		for (u64 i = 0; i < bits; i++)
			p[i / 64] |= 1ull << (i & 63);
		a->len += need;
		b->hs.records++;
		pfn += bits;
		n -= bits;
	}
}

/*
 * Name [pfn, pfn+n) in the answer. BITMAP answers copy the pool's words
 * (fp_copy_words); they name a run bit by bit only for break=hint-used.
 */
static void fp_add_run(struct fp_ans *a, u64 pfn, u64 n)
{
	a->b->hs.pages += n;
	if (a->w.buf)
		fp_add_ranges(a, pfn, n);
	else
		fp_add_bits(a, pfn, n);
}

/* BITMAP: words [first, last] of the pool's free bitmap as one record */
static void fp_copy_words(struct fp_ans *a, const u64 *bm, u64 first, u64 last)
{
	struct balloon *b = a->b;
	u64 nw = last - first + 1, need = sizeof(struct fb_hdr) + nw * 8;

	if (a->len + need > b->fp_buf_cap)
		fp_flush(a);
	if (a->cancelled)
		return;
	a->len += put_rec(b->fp_buf + a->len, FB_REC_BITMAP, 0, a->id, first * 64, nw * 8) - nw * 8;
	memcpy(b->fp_buf + a->len, &bm[first], nw * 8);
	a->len += nw * 8;
	b->hs.records++;
	for (u64 w = first; w <= last; w++)
		b->hs.pages += __builtin_popcountll(bm[w]);
}

/* RANGES: the runs of free pages in words [first, last] */
static void fp_walk_runs(struct fp_ans *a, const u64 *bm, u64 first, u64 last)
{
	for (u64 w = first; w <= last && !a->cancelled; w++) {
		u64 x = bm[w];

		while (x && !a->cancelled) {
			u64 bit = __builtin_ctzll(x), len = ~(x >> bit) ? (u64)__builtin_ctzll(~(x >> bit)) : 64 - bit;

			fp_add_run(a, w * 64 + bit, len);
			x = len + bit >= 64 ? 0 : x & ~(((1ull << len) - 1) << bit);
		}
	}
}

/*
 * FREE_PAGES: the pool's free bitmap is the answer. BITMAP records copy it a
 * 64-bit word at a time (a set bit is a free page, as in the pool), one
 * record per chunk of up to FP_CHUNK_WORDS words that has a free page, from
 * its first to its last non-zero word; RANGES records walk it run by run.
 * The pages stay in the pool: whoever takes one later writes it before
 * reading it (page_alloc zeroes, the cache and data sets fill), so naming
 * them is allowed (FB-D11), and the dirty log brings writes back.
 */
static void fp_walk(struct fp_ans *a)
{
	const u64 *bm = guest_pool.bitmap;
	u64 words = (guest_pool.max_pfn + 63) / 64;

	for (u64 c = 0; c < words && !a->cancelled; c += FP_CHUNK_WORDS) {
		u64 end = MIN(c + FP_CHUNK_WORDS, words), first = end, last = 0;

		for (u64 w = c; w < end; w++)
			if (bm[w]) {
				if (first == end)
					first = w;
				last = w;
			}
		if (first == end)
			continue;
		if (a->type == FB_REC_BITMAP)
			fp_copy_words(a, bm, first, last);
		else
			fp_walk_runs(a, bm, first, last);
	}
}

/* the last record: DONE, naming nothing (FB-D10) */
static void fp_done(struct fp_ans *a)
{
	struct balloon *b = a->b;

	if (a->w.buf) {
		fp_take_ranges(a);
		a->w.buf = NULL;	/* DONE goes after them, not through the writer */
	}
	if (a->len + sizeof(struct fb_hdr) > b->fp_buf_cap)
		fp_flush(a);
	a->len += put_rec(b->fp_buf + a->len, a->type, FB_FLAG_DONE, a->id, 0, 0);
	b->hs.records++;
	resp_send(b, b->fp_buf, a->len);
	b->hs.buffers++;
	b->hs.done++;
}

/* end the answer with DONE; tests' fp_hold keeps it open until its CANCEL (FB-V15 probe) */
static void fp_finish(struct fp_ans *a)
{
	struct balloon *b = a->b;

	if (brk(b, BRK_NO_DONE) && !b->fp_hold) {
		fp_flush(a);	/* and no DONE */
		return;
	}
	if (b->fp_hold) {
		fp_flush(a);
		if (!a->cancelled) {
			b->fp_hold_id = a->id;	/* DONE when its CANCEL comes */
			return;
		}
	}
	fp_done(a);
}

void answer_free_pages(struct balloon *b, u64 id)
{
	struct fp_ans a = { .b = b, .id = id };
	u64 t0 = now_ns();

	a.type = virtio_has(&b->vd, FB_F_PAGE_BITMAP) ? FB_REC_BITMAP : FB_REC_RANGES;
	b->hs.requests++;
	if (a.type == FB_REC_RANGES)
		fb_writer_init(&a.w, b->fp_buf, b->fp_buf_cap);
	fp_walk(&a);
	if (brk(b, BRK_HINT_USED) && b->brk_n && !a.cancelled)
		fp_add_run(&a, b->brk_pfn, b->brk_n);	/* and pages in use */
	fp_finish(&a);
	b->hs.ns += now_ns() - t0;
}

/*
 * fp_hold: the answer's CANCEL came. Probe the device's handling of ended
 * ids: a record for the cancelled id (stale-records +1), its DONE (stale,
 * it finishes the request), then one more record for the now finished id
 * (bad-records +1, FB-V15 row 6).
 */
void fp_hold_cancelled(struct balloon *b, u64 id)
{
	u16 t = virtio_has(&b->vd, FB_F_PAGE_BITMAP) ? FB_REC_BITMAP : FB_REC_RANGES;

	resp_one(b, t, 0, id, false, 0);
	resp_one(b, t, FB_FLAG_DONE, id, false, 0);
	resp_one(b, t, 0, id, false, 0);
	b->hs.stale_sent += 3;
	b->hs.done++;
	b->hs.cut_short++;
	b->fp_hold_id = 0;
}
