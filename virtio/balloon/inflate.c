/*
 * Inflate and deflate: in bulk (rounds of runs from the allocator or the
 * balloon's bitmap) and of exactly the pages a caller names.
 */
#include "types.h"
#include "pages.h"
#include "report.h"
#include "timer.h"
#include "virtio/balloon/internal.h"

bool balloon_page_in(struct balloon *b, u64 pfn)
{
	return pfn / 64 < b->bitmap_words && (b->in_balloon[pfn / 64] >> (pfn & 63)) & 1;
}

struct bulk_ctx {
	struct balloon *b;
	struct balloon_req *r;
};

static bool bulk_cb(u64 pfn, u64 n, void *ctx)
{
	struct bulk_ctx *c = ctx;
	u64 t = c->r->enc->add(c->r, pfn, n);

	if (t < n) {	/* the encoder is full: give the rest back */
		pool_free_range(&guest_pool, pfn + t, n - t);
		return false;
	}
	return true;
}

static bool collect_cb(u64 pfn, u64 n, void *ctx)
{
	struct balloon *b = ctx;

	b->runs[b->nruns].pfn = pfn;
	b->runs[b->nruns].n = n;
	b->nruns++;
	return b->nruns < b->runs_cap;
}

/* proto=auto with both formats negotiated: the smaller encoding of this round */
static void choose_enc(struct balloon *b)
{
	if (b->o.proto != PROTO_AUTO || b->enc == &balloon_pfn_encoder ||
	    !virtio_has(&b->vd, FB_F_PAGE_BITMAP) || !virtio_has(&b->vd, FB_F_PAGE_RANGES))
		return;
	b->enc = fb_estimate_ranges(b->runs, b->nruns) < fb_estimate_bitmap(b->runs, b->nruns) ?
		 &balloon_ranges_encoder : &balloon_bitmap_encoder;
}

u64 balloon_inflate(struct balloon *b, u64 n)
{
	u64 done = 0;

	while (done < n) {
		u64 t0 = now_ns(), got;

		b->nruns = 0;
		got = pool_alloc_bulk(&guest_pool, n - done, collect_cb, b);
		b->st.alloc_ns += now_ns() - t0;
		if (!got)
			break;	/* out of memory */
		choose_enc(b);
		send_runs(b, true);
		done += got;
	}
	b->st.pages += done;
	balloon_update_actual(b);
	return done;
}

/*
 * Add the named pages to r until it is full: pfns[*i..n) with consecutive
 * pages as one run, or the run [pfn + *i, pfn + n) when pfns is NULL.
 * Deflated pages leave the balloon's bitmap as they are added.
 */
static void add_pages(struct balloon *b, struct balloon_req *r, const u64 *pfns, u64 pfn, u64 *i, u64 n)
{
	while (*i < n) {
		u64 start = pfns ? pfns[*i] : pfn + *i, len = pfns ? 1 : n - *i, t;

		while (pfns && *i + len < n && pfns[*i + len] == start + len)
			len++;
		t = r->enc->add(r, start, len);
		if (!r->inflate)
			bits_clear(b->in_balloon, start, t);
		*i += t;
		if (t < len)
			break;
	}
}

/* inflate, or deflate back to the caller, exactly these pages: batched, every ack awaited */
static u64 send_pages(struct balloon *b, bool inflate, const u64 *pfns, u64 pfn, u64 n)
{
	struct virtqueue *vq = inflate ? b->ivq : b->dvq;
	u64 done = 0;

	while (done < n) {
		struct balloon_req *r = req_get(b, vq);

		req_begin(b, r, inflate, !inflate);
		add_pages(b, r, pfns, pfn, &done, n);
		if (inflate)
			b->nr_inflight += r->pages;
		req_submit(b, r);
	}
	req_drain(b, vq);
	balloon_update_actual(b);
	return done;
}

u64 balloon_inflate_run(struct balloon *b, u64 pfn, u64 n)
{
	return send_pages(b, true, NULL, pfn, n);
}

u64 balloon_inflate_pfns(struct balloon *b, const u64 *pfns, u64 n)
{
	return send_pages(b, true, pfns, 0, n);
}

u64 balloon_deflate_pfns(struct balloon *b, const u64 *pfns, u64 n)
{
	for (u64 i = 0; i < n; i++)
		assert(balloon_page_in(b, pfns[i]));	/* 5.5.6.1: only acknowledged pages */
	return send_pages(b, false, pfns, 0, n);
}

u64 balloon_deflate_run(struct balloon *b, u64 pfn, u64 n)
{
	for (u64 i = 0; i < n; i++)
		assert(balloon_page_in(b, pfn + i));	/* 5.5.6.1: only acknowledged pages */
	return send_pages(b, false, NULL, pfn, n);
}

u64 balloon_inflate_nowait(struct balloon *b, u64 n)
{
	u64 done = 0;

	for (u32 i = 0; i < b->o.inflight && done < n; i++) {
		struct balloon_req *r = &b->reqs[i];
		struct bulk_ctx c = { b, r };

		if (r->busy)
			continue;
		req_begin(b, r, true, false);
		pool_alloc_bulk(&guest_pool, MIN(n - done, r->max_pages), bulk_cb, &c);
		if (!r->pages)
			break;
		b->nr_inflight += r->pages;
		done += r->pages;
		req_submit(b, r);
	}
	return done;
}

u64 balloon_oom_deflate(struct balloon *b, u64 n)
{
	if (!virtio_has(&b->vd, VIRTIO_BALLOON_F_DEFLATE_ON_OOM) && !brk(b, BRK_OOM))
		return 0;	/* 5.5.6.1: without the feature, ballooned pages stay put */
	return balloon_deflate(b, n);
}

/* runs of ballooned pages, lowest first from the scan hint, bits cleared; returns pages */
static u64 collect_ballooned(struct balloon *b, u64 want)
{
	u64 w = b->scan_hint, got = 0;

	b->nruns = 0;
	for (; w < b->bitmap_words && got < want && b->nruns < b->runs_cap; w++) {
		u64 x = b->in_balloon[w];

		while (x && got < want && b->nruns < b->runs_cap) {
			u64 bit = __builtin_ctzll(x), len, pfn = w * 64 + bit;

			/* the run may go on through following words */
			len = ~(x >> bit) ? (u64)__builtin_ctzll(~(x >> bit)) : 64 - bit;
			if (bit + len == 64)
				for (u64 v = w + 1; v < b->bitmap_words && b->in_balloon[v] == ~0ull && len < want - got; v++)
					len += 64;
			len = MIN(len, want - got);
			if (b->nruns && b->runs[b->nruns - 1].pfn + b->runs[b->nruns - 1].n == pfn) {
				b->runs[b->nruns - 1].n += len;
			} else {
				b->runs[b->nruns].pfn = pfn;
				b->runs[b->nruns].n = len;
				b->nruns++;
			}
			bits_clear(b->in_balloon, pfn, len);
			got += len;
			w = (pfn + len) / 64;
			x = w < b->bitmap_words ? b->in_balloon[w] : 0;
		}
		if (x)
			break;
	}
	b->scan_hint = w < b->bitmap_words ? w : 0;
	return got;
}

u64 balloon_deflate(struct balloon *b, u64 n)
{
	u64 done = 0;
	bool rescanned = false;

	while (done < n) {
		u64 from = b->scan_hint, t0 = now_ns(), got = collect_ballooned(b, n - done);

		b->st.alloc_ns += now_ns() - t0;
		if (!got) {
			if (rescanned || !from)
				break;	/* scanned everything from word 0 */
			b->scan_hint = 0;
			rescanned = true;
			continue;
		}
		choose_enc(b);
		send_runs(b, false);
		done += got;
	}
	b->st.pages += done;
	balloon_update_actual(b);
	return done;
}

