/*
 * The inflate/deflate request pipeline: a request buffer is encoded, added
 * to inflateq or deflateq and notified; its pages change hands only when
 * the device has used it (5.5.6.1).
 */
#include "types.h"
#include "io.h"
#include "pages.h"
#include "string.h"
#include "report.h"
#include "timer.h"
#include "virtio/balloon/internal.h"

static void fill_u32(u64 pfn, u64 n, u32 v)
{
	u32 *p = phys_to_virt(pfn << PAGE_SHIFT);
	u64 cnt = n * (PAGE_SIZE / 4);

	for (u64 i = 0; i < cnt; i++)
		p[i] = v;
}

static void inflate_done_run(u64 pfn, u64 n, void *ctx)
{
	struct balloon *b = ctx;

	bits_set(b->in_balloon, pfn, n);
	b->nr_pages += n;
	b->nr_inflight -= n;
	b->pages_inflated += n;
}

/* 5.5.6.6.1, 5.5.6.7.1: initialise with poison_val */
void poison_pages(struct balloon *b, u64 pfn, u64 n)
{
	if (b->poison && !brk(b, BRK_NO_POISON))
		fill_u32(pfn, n, b->poison_val);
}

/* deflated pages become the guest's again (after the ack, 5.5.6.1) */
void release_run(u64 pfn, u64 n, void *ctx)
{
	struct balloon_req *r = ctx;

	poison_pages(r->b, pfn, n);
	if (!r->keep)
		pool_free_range(&guest_pool, pfn, n);
}

void deflate_done_run(u64 pfn, u64 n, void *ctx)
{
	struct balloon_req *r = ctx;
	struct balloon *b = r->b;

	b->nr_pages -= n;
	b->pages_deflated += n;
	if (!brk(b, BRK_REUSE_BEFORE_ACK))	/* else given back at submit */
		release_run(pfn, n, r);
}

static void complete(struct balloon *b, struct balloon_req *r)
{
	if (r->inflate)
		r->enc->for_each(r, inflate_done_run, b);
	else
		r->enc->for_each(r, deflate_done_run, r);
	r->busy = false;
	r->used = false;
}

/* while set, used requests are only marked (completion after the send is timed) */
static bool defer_completion;

/* take back every used request of vq; with wait, at least one */
static void reap(struct balloon *b, struct virtqueue *vq, bool wait)
{
	struct balloon_req *r;
	u32 len;

	if (wait && !vq_wait(vq, WAIT_MS))
		panic("balloon: queue %u: no used buffer after %u ms", vq->index, WAIT_MS);
	while ((r = vq_get_used(vq, &len))) {
		if (defer_completion)
			r->used = true;
		else
			complete(b, r);
	}
}

struct balloon_req *req_get(struct balloon *b, struct virtqueue *vq)
{
	for (;;) {
		for (u32 i = 0; i < b->o.inflight; i++)
			if (!b->reqs[i].busy)
				return &b->reqs[i];
		vq_kick(vq);
		reap(b, vq, true);
	}
}

void req_submit(struct balloon *b, struct balloon_req *r)
{
	struct vq_sg sg[VQ_INDIRECT_MAX];
	int n = 1;

	sg[0].addr = virt_to_phys(r->buf);
	sg[0].len = r->len;
	sg[0].write = false;
	if (b->o.sg_pages && r->len > PAGE_SIZE) {
		/* one entry per page (or larger pieces, at most VQ_INDIRECT_MAX of them) */
		u64 piece = ALIGN_UP(npages(r->len) / VQ_INDIRECT_MAX + 1, 1) * PAGE_SIZE;
		u64 off = 0;

		if (npages(r->len) <= VQ_INDIRECT_MAX)
			piece = PAGE_SIZE;
		n = 0;
		while (off < r->len) {
			sg[n].addr = virt_to_phys(r->buf) + off;
			sg[n].len = MIN(piece, r->len - off);
			sg[n].write = false;
			off += sg[n].len;
			n++;
		}
	}
	r->busy = true;
	r->submitted_ns = now_ns();
	while (vq_add(r->vq, sg, n, r) != 0) {
		vq_kick(r->vq);
		reap(b, r->vq, true);
	}
	b->requests++;
	if (!r->inflate && brk(b, BRK_REUSE_BEFORE_ACK))
		brk_reuse_early(b, r);
}

void req_drain(struct balloon *b, struct virtqueue *vq)
{
	bool busy;

	vq_kick(vq);
	do {
		busy = false;
		for (u32 i = 0; i < b->o.inflight; i++)
			if (b->reqs[i].busy && !b->reqs[i].used && b->reqs[i].vq == vq)
				busy = true;
		if (busy)
			reap(b, vq, true);
	} while (busy);
}

void req_begin(struct balloon *b, struct balloon_req *r, bool inflate, bool keep)
{
	r->b = b;
	r->inflate = inflate;
	r->keep = keep;
	r->vq = inflate ? b->ivq : b->dvq;
	r->enc = b->enc;
	r->skew = inflate && brk(b, BRK_WRONG_PFN);	/* names pfn + skew for pfn */
	r->enc->begin(r);
}

/*
 * Bulk inflate and deflate go in rounds of three timed stages (struct
 * balloon_stage): take pages (runs) from the allocator or the balloon
 * bitmap; encode them into as few request buffers as they fit and add those
 * to the ring; notify and wait for every buffer. Completion bookkeeping
 * comes after the timed send.
 */
u64 send_runs(struct balloon *b, bool inflate)
{
	struct virtqueue *vq = inflate ? b->ivq : b->dvq;
	u64 ri = 0, ro = 0, sent = 0;

	while (ri < b->nruns) {
		u64 t0 = now_ns(), t1, t2;

		for (u32 i = 0; i < b->o.inflight && ri < b->nruns; i++) {
			struct balloon_req *r = &b->reqs[i];

			assert(!r->busy);
			req_begin(b, r, inflate, false);
			while (ri < b->nruns) {
				ro += r->enc->add(r, b->runs[ri].pfn + ro, b->runs[ri].n - ro);
				if (ro < b->runs[ri].n)
					break;	/* buffer full */
				ri++;
				ro = 0;
			}
			if (!r->pages)
				panic("balloon: a request buffer of %llu bytes takes no page", (unsigned long long)r->buf_cap);
			if (inflate)
				b->nr_inflight += r->pages;
			sent += r->pages;
			b->st.records += r->enc == &balloon_pfn_encoder ? r->pages : r->w.records;
			b->st.reqs++;
			req_submit(b, r);
		}
		t1 = now_ns();
		defer_completion = true;
		req_drain(b, vq);
		defer_completion = false;
		t2 = now_ns();
		for (u32 i = 0; i < b->o.inflight; i++)
			if (b->reqs[i].used)
				complete(b, &b->reqs[i]);
		b->st.build_ns += t1 - t0;
		b->st.send_ns += t2 - t1;
		b->st.done_ns += now_ns() - t2;
	}
	b->st.proto = b->enc->name;
	b->st.rounds++;
	return sent;
}
