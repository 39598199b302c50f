/*
 * Device set-up: probe, feature negotiation, queue numbering, the queues
 * and the buffers posted before DRIVER_OK; reset and set-up again.
 */
#include "types.h"
#include "irq.h"
#include "pages.h"
#include "string.h"
#include "report.h"
#include "virtio/balloon/internal.h"

/* FB-D4, FB-D5: records when negotiated, in a negotiated format (BITMAP first); PFNs otherwise */
static void pick_encoder(struct balloon *b)
{
	if (!b->records)
		b->enc = &balloon_pfn_encoder;
	else if (virtio_has(&b->vd, FB_F_PAGE_BITMAP))
		b->enc = &balloon_bitmap_encoder;
	else
		b->enc = &balloon_ranges_encoder;
	if (b->records && (brk(b, BRK_PFN_IN_RECORDS) || brk(b, BRK_RANGES_NOT_NEG)))
		b->enc = brk_wrong_encoder(b);
}

/* features, and what follows from them: FB-D1, the request format, FB-V3 */
static int negotiate(struct balloon *b)
{
	struct virtio_dev *vd = &b->vd;
	u64 want = b->o.features;

	if (vd->tp->legacy)
		want &= 0xffffffffull;
	if (brk(b, BRK_FEATURES_OK))
		brk_accept_features(vd, want);
	else if (virtio_negotiate(vd, want))
		return -2;
	/* FB-D1: HOST_REQ only together with a record format */
	if (virtio_has(vd, FB_F_HOST_REQ) && !virtio_has(vd, FB_F_PAGE_BITMAP) &&
	    !virtio_has(vd, FB_F_PAGE_RANGES)) {
		virtio_set_failed(vd);
		return -5;
	}
	b->records = virtio_has(vd, FB_F_PAGE_BITMAP) || virtio_has(vd, FB_F_PAGE_RANGES);
	if ((b->o.proto == PROTO_BITMAP && !virtio_has(vd, FB_F_PAGE_BITMAP)) ||
	    (b->o.proto == PROTO_RANGES && !virtio_has(vd, FB_F_PAGE_RANGES))) {
		virtio_set_failed(vd);
		return -6;	/* the forced format was not offered */
	}
	pick_encoder(b);
	if (!b->o.batch)
		b->o.batch = b->enc == &balloon_pfn_encoder ? BALLOON_DEFAULT_BATCH : 0xffffffffu;
	if (!b->o.inflight)
		b->o.inflight = b->enc == &balloon_pfn_encoder ? 16 : 4;
	/* FB-V3: the 20-byte config when any of bits 16-18 is offered */
	b->fast_offered = vd->features_offered & ((1ull << FB_F_PAGE_BITMAP) | (1ull << FB_F_PAGE_RANGES) |
						  (1ull << FB_F_HOST_REQ));
	b->granule_shift = b->fast_offered ? virtio_cread32(vd, FB_CFG_GRANULE) : 0;
	return 0;
}

/*
 * 5.5.2: optional queues exist with their feature; later ones move
 * down. FB-D2: indices follow the features the device offers, counting
 * a queue whose feature the driver declined.
 */
static void number_queues(struct balloon *b)
{
	struct virtio_dev *vd = &b->vd;
	u64 qf = brk(b, BRK_QNUM_NEGOTIATED) ? vd->features : vd->features_offered;
	int next = 2;

	b->qidx_stats = b->qidx_fph = b->qidx_report = b->qidx_hreq = b->qidx_hresp = -1;
	if (qf & (1ull << VIRTIO_BALLOON_F_STATS_VQ))
		b->qidx_stats = b->o.spec_queue_numbers ? 2 : next++;
	if (qf & (1ull << VIRTIO_BALLOON_F_FREE_PAGE_HINT))
		b->qidx_fph = b->o.spec_queue_numbers ? 3 : next++;
	if (qf & (1ull << VIRTIO_BALLOON_F_REPORTING))
		b->qidx_report = b->o.spec_queue_numbers ? 4 : next++;
	if (qf & (1ull << FB_F_HOST_REQ)) {
		b->qidx_hreq = next++;
		b->qidx_hresp = next++;
	}
}

/* interrupts, then every queue the negotiated features bring */
static int setup_queues(struct balloon *b)
{
	struct virtio_dev *vd = &b->vd;

	if (b->o.msix && !virtio_setup_msix(vd))
		virtio_setup_intx(vd);
	b->ivq = vq_setup(vd, 0, b->o.queue_size);
	b->dvq = vq_setup(vd, 1, b->o.queue_size);
	b->svq = virtio_has(vd, VIRTIO_BALLOON_F_STATS_VQ) ? vq_setup(vd, b->qidx_stats, 0) : NULL;
	b->fvq = virtio_has(vd, VIRTIO_BALLOON_F_FREE_PAGE_HINT) ? vq_setup(vd, b->qidx_fph, 0) : NULL;
	b->isr_poll = false;
	if (b->fvq) {
		vq_disable_irq(b->fvq);	/* see fph_reap */
		if (!vd->msix) {
			/*
			 * QEMU 7.2 raises INTx for free_page_vq from its iothread without
			 * the BQL, even with interrupts suppressed (the first notify of a
			 * queue always goes out); under TCG that aborts QEMU. Mask INTx
			 * at the PCI function (QEMU then never raises the line) and poll
			 * the ISR for config changes. docs/conformance.md, FPH rows.
			 */
			pci_write16(vd->pci, PCI_COMMAND, pci_read16(vd->pci, PCI_COMMAND) | PCI_COMMAND_INTX_DISABLE);
			b->isr_poll = true;
		}
	}
	b->rvq = virtio_has(vd, VIRTIO_BALLOON_F_REPORTING) ? vq_setup(vd, b->qidx_report, 0) : NULL;
	b->hqvq = b->hrvq = NULL;
	if (virtio_has(vd, FB_F_HOST_REQ)) {
		b->hqvq = vq_setup(vd, b->qidx_hreq, 0);
		b->hrvq = vq_setup(vd, b->qidx_hresp, 0);
	}
	if (!b->ivq || !b->dvq || (virtio_has(vd, VIRTIO_BALLOON_F_STATS_VQ) && !b->svq) ||
	    (virtio_has(vd, VIRTIO_BALLOON_F_FREE_PAGE_HINT) && !b->fvq) ||
	    (virtio_has(vd, VIRTIO_BALLOON_F_REPORTING) && !b->rvq) ||
	    (virtio_has(vd, FB_F_HOST_REQ) && (!b->hqvq || !b->hrvq))) {
		virtio_set_failed(vd);
		return -3;
	}
	if (b->o.inflight > b->ivq->num)
		b->o.inflight = b->ivq->num;
	return 0;
}

/* what the device must have before DRIVER_OK (poison_val, buffers), DRIVER_OK, then the notifies */
static void post_buffers(struct balloon *b)
{
	struct virtio_dev *vd = &b->vd;

	/* 5.5.5 / 5.5.6.6.1: poison_val before DRIVER_OK */
	b->poison = virtio_has(vd, VIRTIO_BALLOON_F_PAGE_POISON);
	b->poison_val = b->o.poison_val;
	if (b->poison && !brk(b, BRK_NO_POISON_VAL))
		virtio_cwrite32(vd, CFG_POISON, b->poison_val);
	if (b->svq) {
		balloon_stats_default_values(b);
		stats_post(b);	/* 5.5.5 2b: one buffer before DRIVER_OK ... */
	}
	b->hq_n = 0;
	b->fp_hold_id = 0;
	b->fph_last_id = 0;
	b->fph_cfg_seen = vd->config_changes;
	if (b->hqvq && !brk(b, BRK_NO_HOSTREQ_BUF))
		for (u32 i = 0; i < b->o.hreq_bufs && i < HREQ_SLOTS_MAX; i++)
			hreq_post(b, i);	/* FB-D9 */
	virtio_driver_ok(vd);
	if (b->svq)
		vq_kick(b->svq);	/* ... and notify after it */
	if (b->hqvq)
		vq_kick(b->hqvq);
	if (vd->msix || vd->intx)
		irq_enable();
}

static int setup_device(struct balloon *b)
{
	int r = negotiate(b);

	if (r)
		return r;
	number_queues(b);
	r = setup_queues(b);
	if (r)
		return r;
	post_buffers(b);
	return 0;
}

int balloon_init(struct balloon *b, const struct balloon_opts *o)
{
	u64 buf_pages;
	int r;

	memset(b, 0, sizeof(*b));
	b->o = *o;
	b->enc = &balloon_pfn_encoder;
	if (virtio_pci_probe(&b->vd, 5 /* VIRTIO_ID_BALLOON */, 0, o->transport))
		return -1;
	b->bitmap_words = (guest_pool.max_pfn + 63) / 64;
	b->in_balloon = pages_alloc(npages(b->bitmap_words * 8));
	b->stats_buf = page_alloc();
	b->hreq_buf = page_alloc();
	b->hresp_buf = page_alloc();
	b->fp_buf_cap = FP_BUF_BYTES;
	b->fp_buf = pages_alloc(npages(FP_BUF_BYTES));
	b->fph_idbuf = page_alloc();
	b->runs_cap = RUNS_CAP;
	b->runs = pages_alloc(npages(RUNS_CAP * sizeof(struct fb_run)));
	if (!b->in_balloon || !b->stats_buf || !b->hreq_buf || !b->hresp_buf || !b->runs ||
	    !b->fp_buf || !b->fph_idbuf)
		return -4;
	r = setup_device(b);	/* picks the format, so buffers come after it */
	if (r)
		return r;
	buf_pages = npages(b->enc == &balloon_pfn_encoder ? b->o.batch * sizeof(u32) : b->o.buf_bytes);
	for (u32 i = 0; i < BALLOON_MAX_INFLIGHT && i < b->o.inflight; i++) {
		b->reqs[i].buf = pages_alloc(buf_pages);
		b->reqs[i].buf_cap = buf_pages * PAGE_SIZE;
		b->reqs[i].max_pages = b->o.batch;
		b->reqs[i].b = b;
		if (!b->reqs[i].buf)
			return -4;
	}
	return 0;
}

static void free_queues(struct balloon *b)
{
	struct virtqueue **qs[] = { &b->ivq, &b->dvq, &b->svq, &b->fvq, &b->rvq, &b->hqvq, &b->hrvq };

	for (size_t i = 0; i < ARRAY_SIZE(qs); i++)
		if (*qs[i]) {
			vq_free(*qs[i]);
			*qs[i] = NULL;
		}
}

void balloon_reset(struct balloon *b)
{
	virtio_reset(&b->vd);
	/* requests in flight are void: their pages are the guest's again, uninitialised */
	for (u32 i = 0; i < b->o.inflight; i++) {
		struct balloon_req *r = &b->reqs[i];

		if (!r->busy)
			continue;
		if (r->inflate) {
			b->nr_inflight -= r->pages;
			r->keep = false;
			r->enc->for_each(r, release_run, r);
		} else {
			/* the device keeps no per-page state over a reset: treat as deflated */
			r->enc->for_each(r, deflate_done_run, r);
		}
		r->busy = false;
	}
	if (!brk(b, BRK_STALE_RINGS))
		free_queues(b);
	if (b->vd.msix)
		pci_msix_disable(b->vd.pci);
	b->stats_posted = false;
}

int balloon_reinit(struct balloon *b)
{
	if (brk(b, BRK_STALE_RINGS))
		return brk_reinit_stale_rings(b);
	return setup_device(b);
}

void balloon_service(struct balloon *b)
{
	balloon_host_poll(b);
	balloon_fph_poll(b);
}

const char *balloon_proto_name(struct balloon *b)
{
	if (b->o.proto == PROTO_AUTO && b->records && virtio_has(&b->vd, FB_F_PAGE_BITMAP) &&
	    virtio_has(&b->vd, FB_F_PAGE_RANGES) && b->enc != &balloon_pfn_encoder)
		return "auto";
	return b->enc->name;
}
