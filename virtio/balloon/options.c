/* The driver's options: defaults, and the guest args that change them. */
#include "types.h"
#include "string.h"
#include "report.h"
#include "args.h"
#include "virtio/balloon/internal.h"

void balloon_opts_default(struct balloon_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->transport = VIRTIO_TP_AUTO;
	o->features = (1ull << VIRTIO_BALLOON_F_MUST_TELL_HOST) | (1ull << VIRTIO_BALLOON_F_STATS_VQ) |
		      (1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM) | (1ull << VIRTIO_F_VERSION_1) |
		      (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_RING_F_EVENT_IDX) |
		      (1ull << VIRTIO_F_RING_PACKED);
	o->batch = 0;		/* per format: BALLOON_DEFAULT_BATCH PFNs, records unlimited */
	o->inflight = 0;	/* per format: 16 PFN requests, 4 record buffers */
	o->msix = true;
	o->proto = PROTO_AUTO;
	o->buf_bytes = 1 << 20;
	o->page_shift = 12;
	o->host_req = true;
	o->hreq_bufs = 4;
}

/*
 * Guest args: transport=modern|legacy, batch=N, inflight=N, sg=1 (page-sized
 * sg entries), qsize=N, msix=0, indirect=0, event_idx=0, packed=0, stats=0,
 * poison=VAL (accept PAGE_POISON), report=1, fph=1, spec_qnum=1,
 * features=MASK (replaces the set), break=a,b.
 * Fast protocol (docs/protocol.md): proto=auto|pfn|bitmap|ranges (auto:
 * accept PAGE_BITMAP and PAGE_RANGES when offered and pick, per round of
 * pages, the format whose encoding is smaller), bufkb=N (bytes per record
 * buffer, default 1024 KiB), shift=N (page_shift for the 2^N-aligned parts of
 * runs, default 12), hostreq=0 (decline HOST_REQ).
 */
void balloon_opts_from_args(struct balloon_opts *o)
{
	const char *t = arg_get("transport");

	if (t && !strcmp(t, "legacy"))
		o->transport = VIRTIO_TP_LEGACY;
	else if (t && !strcmp(t, "modern"))
		o->transport = VIRTIO_TP_MODERN;
	o->batch = arg_u64("batch", o->batch);
	o->inflight = arg_u64("inflight", o->inflight);
	t = arg_get("proto");
	if (t && !strcmp(t, "pfn"))
		o->proto = PROTO_PFN;
	else if (t && !strcmp(t, "bitmap"))
		o->proto = PROTO_BITMAP;
	else if (t && !strcmp(t, "ranges"))
		o->proto = PROTO_RANGES;
	else if (t && strcmp(t, "auto"))
		panic("proto=%s: expected auto, pfn, bitmap or ranges", t);
	o->buf_bytes = arg_u64("bufkb", o->buf_bytes / 1024) * 1024;
	if (o->buf_bytes < PAGE_SIZE)
		o->buf_bytes = PAGE_SIZE;
	o->page_shift = arg_u64("shift", o->page_shift);
	if (o->page_shift < 12 || o->page_shift > 30)
		panic("shift=%u: expected 12..30", o->page_shift);
	o->host_req = arg_bool("hostreq", o->host_req);
	o->hreq_bufs = arg_u64("hreq_bufs", o->hreq_bufs);
	if (o->proto != PROTO_PFN)
		o->features |= (o->proto != PROTO_RANGES ? 1ull << FB_F_PAGE_BITMAP : 0) |
			       (o->proto != PROTO_BITMAP ? 1ull << FB_F_PAGE_RANGES : 0);
	if (o->host_req && o->proto != PROTO_PFN)
		o->features |= 1ull << FB_F_HOST_REQ;
	o->sg_pages = arg_bool("sg", false);
	o->queue_size = arg_u64("qsize", 0);
	o->msix = arg_bool("msix", o->msix);
	o->spec_queue_numbers = arg_bool("spec_qnum", false);
	if (!arg_bool("indirect", true))
		o->features &= ~(1ull << VIRTIO_RING_F_INDIRECT_DESC);
	if (!arg_bool("event_idx", true))
		o->features &= ~(1ull << VIRTIO_RING_F_EVENT_IDX);
	if (!arg_bool("packed", true))
		o->features &= ~(1ull << VIRTIO_F_RING_PACKED);
	if (!arg_bool("stats", true))
		o->features &= ~(1ull << VIRTIO_BALLOON_F_STATS_VQ);
	if (arg_get("poison")) {
		o->features |= 1ull << VIRTIO_BALLOON_F_PAGE_POISON;
		o->poison_val = arg_u64("poison", 0);
	}
	if (arg_bool("report", false))
		o->features |= 1ull << VIRTIO_BALLOON_F_REPORTING;
	if (arg_bool("fph", false))
		o->features |= 1ull << VIRTIO_BALLOON_F_FREE_PAGE_HINT;
	o->features = arg_u64("features", o->features);
	balloon_opts_breaks(o, arg_get("break"));
	if (o->inflight > BALLOON_MAX_INFLIGHT)
		o->inflight = BALLOON_MAX_INFLIGHT;
}
