/*
 * The virtio balloon driver (virtio spec 5.5, "Traditional Memory Balloon
 * Device"): its interface. Inflate and deflate requests are built by an
 * encoder: the standard one writes 32-bit PFN arrays; the fast protocol
 * (issue 5) adds bitmap/range encoders behind the same interface, so the
 * request pipeline, page bookkeeping and `actual` handling are shared.
 *
 * One file per concern in virtio/balloon/ (the comments below name them);
 * internal.h is what they share, breaks.h the negative-test knobs.
 */
#ifndef VIRTIO_BALLOON_H
#define VIRTIO_BALLOON_H
#include "types.h"
#include <linux/virtio_balloon.h>
#include "virtio/virtio.h"
#include "virtio/virtqueue.h"
#include "virtio/fb_records.h"
#include "virtio/balloon/breaks.h"

#define BALLOON_MAX_INFLIGHT 32
#define BALLOON_DEFAULT_BATCH 256	/* PFNs per request, like Linux */

struct balloon;
struct balloon_req;

typedef void (*balloon_run_fn)(u64 pfn, u64 n, void *ctx);

/* Builds request buffers from runs of pages and reads them back. */
struct balloon_encoder {
	const char *name;
	/* bytes of buffer a request needs for up to max_pages pages */
	u64 (*buf_bytes)(u64 max_pages);
	void (*begin)(struct balloon_req *r);
	/* append part of a run; returns pages taken (< n once the buffer is full) */
	u64 (*add)(struct balloon_req *r, u64 pfn, u64 n);
	/* every run the request names, in order */
	void (*for_each)(struct balloon_req *r, balloon_run_fn fn, void *ctx);
};

extern const struct balloon_encoder balloon_pfn_encoder;
/* fastballoon records (docs/protocol.md): BITMAP and RANGES */
extern const struct balloon_encoder balloon_bitmap_encoder;
extern const struct balloon_encoder balloon_ranges_encoder;

/* guest arg proto=: which request format (auto: records when offered) */
enum balloon_proto { PROTO_AUTO, PROTO_PFN, PROTO_BITMAP, PROTO_RANGES };

struct balloon_req {
	struct balloon *b;
	struct virtqueue *vq;
	void *buf;
	u64 buf_cap;		/* bytes */
	u64 len;		/* bytes used */
	u64 pages;		/* pages named */
	u64 max_pages;
	bool busy;
	bool inflate;
	bool keep;		/* deflate: pages go back to the caller, not the pool */
	bool used;		/* taken back from the queue, completion not processed yet */
	u64 submitted_ns;
	const struct balloon_encoder *enc;	/* format of this request */
	struct fb_writer w;	/* record encoders */
	u64 skew;		/* break=wrong-pfn: pages named this far off */
};

/* One balloon operation's stages, as the benchmark reads them (bench/README.md) */
struct balloon_stage {
	u64 pages;
	u64 alloc_ns;		/* taking pages from the allocator (deflate: out of the balloon bitmap) */
	u64 build_ns;		/* encoding requests and adding them to the ring */
	u64 send_ns;		/* first notify to last used buffer */
	u64 done_ns;		/* bookkeeping after the acks (deflate: pages back to the allocator) */
	u64 reqs, records, rounds;
	const char *proto;	/* format of the last request */
};

struct balloon_opts {
	enum virtio_tp_pref transport;
	u64 features;		/* features the driver is willing to accept */
	u32 batch;		/* pages per request */
	u32 inflight;		/* requests in flight at most */
	u32 sg_pages;		/* split each request buffer in page-sized sg entries (chains) */
	u16 queue_size;		/* 0 = device maximum */
	bool msix;
	bool spec_queue_numbers;	/* statsq 2, free_page_vq 3, reporting_vq 4 regardless */
	u32 poison_val;
	u32 brk;		/* break=: negative-test knobs (breaks.h) */
	enum balloon_proto proto;
	u64 buf_bytes;		/* record mode: bytes per request buffer */
	u16 page_shift;		/* record mode: page_shift of records (aligned parts of runs) */
	bool host_req;		/* accept HOST_REQ when offered (with records, FB-D1) */
	u32 hreq_bufs;		/* host_req_vq buffers kept posted (FB-D9; >= 2, default 4) */
};

/* The driver's side of FREE_PAGES / FREE_PAGE_HINT, counted for tests and the benchmark */
struct balloon_hint_stats {
	u64 requests;		/* FREE_PAGES requests seen / FPH cmd ids started */
	u64 done;		/* DONE records sent (FREE_PAGES) / STOP ids sent (FPH) */
	u64 cancels;		/* CANCEL messages seen / STOP read from the config */
	u64 cancels_ignored;	/* CANCEL naming no answer in progress */
	u64 cut_short;		/* answers stopped early by CANCEL / STOP */
	u64 buffers, records;	/* answer buffers and records sent */
	u64 pages;		/* 4 KiB pages named */
	u64 ns;			/* time building and sending answers */
	u64 fph_done_seen;	/* FPH: DONE (1) read from the config */
	u64 stale_sent;		/* records sent on purpose for an ended id (stale probes) */
};

#define BALLOON_ID_LOG 64

/* DROP_CACHE: drop the caches named by kind (1 page cache, 2 slab, 3 both); returns 4 KiB pages freed */
typedef u64 (*balloon_drop_fn)(u32 kind, void *ctx);

struct balloon {
	struct virtio_dev vd;
	struct balloon_opts o;
	const struct balloon_encoder *enc;
	struct virtqueue *ivq, *dvq, *svq, *fvq, *rvq;
	struct virtqueue *hqvq, *hrvq;	/* host_req_vq, host_resp_vq (HOST_REQ) */
	int qidx_stats, qidx_fph, qidx_report, qidx_hreq, qidx_hresp;
	bool records;		/* record mode negotiated */
	bool fast_offered;	/* any of bits 16-18 offered: 20-byte config */
	u32 granule_shift;	/* discard_granule_shift (FB-V3/V4), 0 when not offered */
	u8 *hreq_buf, *hresp_buf;
	u64 host_reqs, host_answers;
	/* host requests: taken off host_req_vq at once (buffers re-posted), then served */
	struct fb_host_req hq_fifo[16];
	u32 hq_n;
	u8 *fp_buf;		/* FREE_PAGES answer buffer */
	u64 fp_buf_cap;
	u64 fp_hold_id;		/* test mode fp_hold: the answer waits for CANCEL before DONE */
	bool fp_hold;		/* set by tests: hold DONE until CANCEL, then probe stale ids (FB-V15) */
	u64 drop_reqs, drop_pages;	/* DROP_CACHE requests served, pages freed */
	balloon_drop_fn drop_cache;	/* set by the owner of a cache; NULL: nothing to drop */
	void *drop_ctx;
	u64 brk_pfn, brk_n;	/* break=hint-used: pages in use that hints name on purpose */
	u64 id_log[BALLOON_ID_LOG];	/* request ids seen, in order (FB-V13 checks) */
	u16 id_cmd[BALLOON_ID_LOG];
	u32 id_n;
	struct balloon_hint_stats hs;	/* FREE_PAGES */
	/* upstream FREE_PAGE_HINT (virtio 1.2 5.5.6.x) */
	u64 fph_cfg_seen;	/* vd.config_changes handled */
	u32 fph_last_id;	/* last cmd id hinted for */
	u32 fph_ids[BALLOON_ID_LOG];	/* cmd ids read from the config, in order */
	u32 fph_nids;
	u32 *fph_idbuf;		/* 4-byte outbufs */
	bool isr_poll;		/* INTx masked (PCI command bit 10): the ISR is polled instead */
	bool fph_stale_probe;	/* tests: before a new id, send a stale id and hint in-use pages (V2) */
	struct balloon_hint_stats fs;	/* FREE_PAGE_HINT */
	struct fb_run *runs;	/* pages of the current round (two-phase inflate/deflate) */
	u64 nruns, runs_cap;
	struct balloon_stage st;	/* accumulated until the caller clears it */

	struct balloon_req reqs[BALLOON_MAX_INFLIGHT];
	u64 *in_balloon;	/* bitmap over guest_pool.max_pfn: page is in the balloon */
	u64 bitmap_words;
	u64 scan_hint;		/* word where the deflate scan starts */
	u64 nr_pages;		/* acknowledged pages in the balloon */
	u64 nr_inflight;	/* pages in unacknowledged requests */
	u32 actual_written;
	u32 poison_val;
	bool poison;

	/* stats */
	struct virtio_balloon_stat *stats_buf;
	u64 stats_val[VIRTIO_BALLOON_S_NR];
	bool stats_posted;
	u64 stats_rounds;

	/* counters */
	u64 requests, pages_inflated, pages_deflated;
	u64 ordering_violations;	/* pages reused before their deflate ack */
	u64 cfg_changes_seen;
};

/* options.c: defaults, then overridden from guest args (see there for the names) */
void balloon_opts_default(struct balloon_opts *o);
void balloon_opts_from_args(struct balloon_opts *o);

/* device.c: find, negotiate, set up queues, DRIVER_OK, post the first stats buffer */
int balloon_init(struct balloon *b, const struct balloon_opts *o);
/* reset the device and forget requests in flight (their pages come back as uninitialised) */
void balloon_reset(struct balloon *b);
/* negotiate and set up the queues again after balloon_reset (pages in the balloon stay there) */
int balloon_reinit(struct balloon *b);

/* target.c: num_pages (consistent read), and writing actual */
u32 balloon_num_pages(struct balloon *b);
u32 balloon_read_actual(struct balloon *b);
void balloon_update_actual(struct balloon *b);

/* inflate.c: inflate n pages taken from guest_pool; returns pages inflated */
u64 balloon_inflate(struct balloon *b, u64 n);
/* inflate exactly these pages (owned by the caller) */
u64 balloon_inflate_run(struct balloon *b, u64 pfn, u64 n);
/* inflate / deflate (back to the caller) exactly these pages, batched */
u64 balloon_inflate_pfns(struct balloon *b, const u64 *pfns, u64 n);
u64 balloon_deflate_pfns(struct balloon *b, const u64 *pfns, u64 n);
/* queue inflate requests for n pool pages without notifying or waiting (for reset tests) */
u64 balloon_inflate_nowait(struct balloon *b, u64 n);
/* the guest is out of memory: take n pages back although num_pages <= actual.
 * Only with DEFLATE_ON_OOM (5.5.6.1); returns pages taken back */
u64 balloon_oom_deflate(struct balloon *b, u64 n);
/* deflate n pages from the balloon to guest_pool; returns pages deflated */
u64 balloon_deflate(struct balloon *b, u64 n);
/* deflate exactly these (ballooned) pages back to the caller */
u64 balloon_deflate_run(struct balloon *b, u64 pfn, u64 n);
bool balloon_page_in(struct balloon *b, u64 pfn);

/* target.c: move to num_pages, update actual; returns the target */
u32 balloon_follow(struct balloon *b);

/* stats.c: service the stats queue (refill after the device used the buffer); true if it did */
bool balloon_stats_poll(struct balloon *b);
void balloon_stats_default_values(struct balloon *b);

/* reporting.c: free page reporting of [pfn, pfn+n): one request, waits for the ack; -1 if no queue */
int balloon_report(struct balloon *b, u64 pfn, u64 n);

/* hostreq.c (FREE_PAGES in free_pages.c): HOST_REQ: answer the requests the device sent, repost the buffers; returns requests seen.
 * FREE_PAGES is answered from guest_pool's free bitmap (BITMAP records copied a word at a time,
 * or RANGES), ending with DONE; a CANCEL that arrives while answering cuts it short with DONE;
 * DROP_CACHE calls b->drop_cache and answers one STATUS (pages freed). */
u64 balloon_host_poll(struct balloon *b);
/* host_req_vq buffers now posted (FB-D9) */
u32 balloon_hreq_posted(struct balloon *b);
/* free_page_hint.c: upstream FREE_PAGE_HINT: on a new cmd id in the config, send the id, the free pages of
 * guest_pool as in-buffers, then STOP; notes STOP/DONE. Returns true if it hinted. */
bool balloon_fph_poll(struct balloon *b);
/* device.c: both of the above: call often while the guest works (INTx raises only counters) */
void balloon_service(struct balloon *b);
/* the name of the format requests use ("pfn", "bitmap", "ranges", "auto") */
const char *balloon_proto_name(struct balloon *b);
/* hostreq.c: send one raw buffer (sg list) on vq and wait for it to be used; false on timeout */
bool balloon_send_raw(struct balloon *b, struct virtqueue *vq, const struct vq_sg *sg, int n, u64 timeout_ms);
#endif
