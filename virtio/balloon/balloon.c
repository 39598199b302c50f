/* The standard virtio balloon driver. See balloon.h; spec references are to virtio 1.2 section 5.5. */
#include "types.h"
#include "io.h"
#include "irq.h"
#include "pages.h"
#include "string.h"
#include "printf.h"
#include "report.h"
#include "timer.h"
#include "args.h"
#include "virtio/balloon/balloon.h"

#define CFG_NUM_PAGES 0
#define CFG_ACTUAL 4
#define CFG_CMD_ID 8
#define CFG_POISON 12
#define WAIT_MS 20000
#define RUNS_CAP (1u << 16)	/* runs per round of a bulk inflate/deflate */

static const struct { const char *name; u32 bit; } break_names[] = {
	{ "no-actual", BRK_NO_ACTUAL },
	{ "wrong-pfn", BRK_WRONG_PFN },
	{ "reuse-before-ack", BRK_REUSE_BEFORE_ACK },
	{ "no-poison", BRK_NO_POISON },
	{ "stats-len", BRK_STATS_LEN },
	{ "actual-bytes", BRK_ACTUAL_BYTES },
	{ "stats-values", BRK_STATS_VALUES },
	{ "features-ok", BRK_FEATURES_OK },
	{ "config-be", BRK_CONFIG_BE },
	{ "stale-rings", BRK_STALE_RINGS },
	{ "oom", BRK_OOM },
	{ "qnum-negotiated", BRK_QNUM_NEGOTIATED },
	{ "pfn-in-records", BRK_PFN_IN_RECORDS },
	{ "no-hostreq-buf", BRK_NO_HOSTREQ_BUF },
	{ "ranges-not-negotiated", BRK_RANGES_NOT_NEG },
	{ "hint-used", BRK_HINT_USED },
	{ "no-done", BRK_NO_DONE },
	{ "no-poison-val", BRK_NO_POISON_VAL },
	{ "ignore-config", BRK_IGNORE_CONFIG },
	{ "no-suppress", BRK_NO_SUPPRESS },
	{ "no-irq", BRK_NO_IRQ },
	{ "no-kick", BRK_NO_KICK },
	{ "reinflate", BRK_REINFLATE },
};

u32 balloon_parse_break(const char *s)
{
	u32 m = 0;

	while (s && *s) {
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		bool found = false;

		for (size_t i = 0; i < ARRAY_SIZE(break_names); i++)
			if (strlen(break_names[i].name) == len && !strncmp(s, break_names[i].name, len)) {
				m |= break_names[i].bit;
				found = true;
			}
		if (!found)
			panic("unknown break=%.*s", (int)len, s);
		s = e ? e + 1 : NULL;
	}
	return m;
}

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
	o->brk = balloon_parse_break(arg_get("break"));
	if (o->brk & BRK_RANGES_NOT_NEG)
		o->features &= ~(1ull << FB_F_PAGE_RANGES);
	if (o->inflight > BALLOON_MAX_INFLIGHT)
		o->inflight = BALLOON_MAX_INFLIGHT;
}

static u64 npages(u64 bytes) { return (bytes + PAGE_SIZE - 1) / PAGE_SIZE; }

/* ---- bitmap of ballooned pages ---- */

static void bits_set(u64 *bm, u64 start, u64 n)
{
	while (n && (start & 63)) { bm[start / 64] |= 1ull << (start & 63); start++; n--; }
	while (n >= 64) { bm[start / 64] = ~0ull; start += 64; n -= 64; }
	while (n) { bm[start / 64] |= 1ull << (start & 63); start++; n--; }
}

static void bits_clear(u64 *bm, u64 start, u64 n)
{
	while (n && (start & 63)) { bm[start / 64] &= ~(1ull << (start & 63)); start++; n--; }
	while (n >= 64) { bm[start / 64] = 0; start += 64; n -= 64; }
	while (n) { bm[start / 64] &= ~(1ull << (start & 63)); start++; n--; }
}

bool balloon_page_in(struct balloon *b, u64 pfn)
{
	return pfn / 64 < b->bitmap_words && (b->in_balloon[pfn / 64] >> (pfn & 63)) & 1;
}

/* ---- requests ---- */

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

/* deflated pages become the guest's again (after the ack, 5.5.6.1) */
static void release_run(u64 pfn, u64 n, void *ctx)
{
	struct balloon_req *r = ctx;
	struct balloon *b = r->b;

	if (b->poison && !(b->o.brk & BRK_NO_POISON))
		fill_u32(pfn, n, b->poison_val);	/* 5.5.6.6.1: initialise with poison_val */
	if (!r->keep)
		pool_free_range(&guest_pool, pfn, n);
}

static void deflate_done_run(u64 pfn, u64 n, void *ctx)
{
	struct balloon_req *r = ctx;
	struct balloon *b = r->b;

	b->nr_pages -= n;
	b->pages_deflated += n;
	if (!(b->o.brk & BRK_REUSE_BEFORE_ACK))
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

static struct balloon_req *get_req(struct balloon *b, struct virtqueue *vq)
{
	for (;;) {
		for (u32 i = 0; i < b->o.inflight; i++)
			if (!b->reqs[i].busy)
				return &b->reqs[i];
		vq_kick(vq);
		reap(b, vq, true);
	}
}

static void submit(struct balloon *b, struct balloon_req *r)
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
	if (!r->inflate && (b->o.brk & BRK_REUSE_BEFORE_ACK)) {
		/* the rule broken on purpose: pages reused while the deflate is unacknowledged */
		b->ordering_violations += r->pages;
		r->enc->for_each(r, release_run, r);
	}
}

static void drain(struct balloon *b, struct virtqueue *vq)
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

static void begin(struct balloon *b, struct balloon_req *r, bool inflate, bool keep)
{
	r->b = b;
	r->inflate = inflate;
	r->keep = keep;
	r->vq = inflate ? b->ivq : b->dvq;
	r->enc = b->enc;
	r->enc->begin(r);
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

/*
 * Bulk inflate and deflate go in rounds of three timed stages (struct
 * balloon_stage): take pages (runs) from the allocator or the balloon
 * bitmap; encode them into as few request buffers as they fit and add those
 * to the ring; notify and wait for every buffer. Completion bookkeeping
 * comes after the timed send.
 */
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

static u64 send_runs(struct balloon *b, bool inflate)
{
	struct virtqueue *vq = inflate ? b->ivq : b->dvq;
	u64 ri = 0, ro = 0, sent = 0;

	while (ri < b->nruns) {
		u64 t0 = now_ns(), t1, t2;

		for (u32 i = 0; i < b->o.inflight && ri < b->nruns; i++) {
			struct balloon_req *r = &b->reqs[i];

			assert(!r->busy);
			begin(b, r, inflate, false);
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
			submit(b, r);
		}
		t1 = now_ns();
		defer_completion = true;
		drain(b, vq);
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

u64 balloon_inflate_run(struct balloon *b, u64 pfn, u64 n)
{
	u64 done = 0;

	while (done < n) {
		struct balloon_req *r = get_req(b, b->ivq);

		begin(b, r, true, false);
		done += b->enc->add(r, pfn + done, n - done);
		b->nr_inflight += r->pages;
		submit(b, r);
	}
	drain(b, b->ivq);
	balloon_update_actual(b);
	return done;
}

u64 balloon_inflate_pfns(struct balloon *b, const u64 *pfns, u64 n)
{
	u64 done = 0;

	while (done < n) {
		struct balloon_req *r = get_req(b, b->ivq);

		begin(b, r, true, false);
		while (done < n) {	/* consecutive pages as one run */
			u64 len = 1, t;

			while (done + len < n && pfns[done + len] == pfns[done] + len)
				len++;
			t = r->enc->add(r, pfns[done], len);
			done += t;
			if (t < len)
				break;
		}
		b->nr_inflight += r->pages;
		submit(b, r);
	}
	drain(b, b->ivq);
	balloon_update_actual(b);
	return done;
}

u64 balloon_deflate_pfns(struct balloon *b, const u64 *pfns, u64 n)
{
	u64 done = 0;

	for (u64 i = 0; i < n; i++)
		assert(balloon_page_in(b, pfns[i]));	/* 5.5.6.1: only acknowledged pages */
	while (done < n) {
		struct balloon_req *r = get_req(b, b->dvq);

		begin(b, r, false, true);
		while (done < n) {
			u64 len = 1, t;

			while (done + len < n && pfns[done + len] == pfns[done] + len)
				len++;
			t = r->enc->add(r, pfns[done], len);
			bits_clear(b->in_balloon, pfns[done], t);
			done += t;
			if (t < len)
				break;
		}
		submit(b, r);
	}
	drain(b, b->dvq);
	balloon_update_actual(b);
	return done;
}

u64 balloon_inflate_nowait(struct balloon *b, u64 n)
{
	u64 done = 0;

	for (u32 i = 0; i < b->o.inflight && done < n; i++) {
		struct balloon_req *r = &b->reqs[i];
		struct bulk_ctx c = { b, r };

		if (r->busy)
			continue;
		begin(b, r, true, false);
		pool_alloc_bulk(&guest_pool, MIN(n - done, r->max_pages), bulk_cb, &c);
		if (!r->pages)
			break;
		b->nr_inflight += r->pages;
		done += r->pages;
		submit(b, r);
	}
	return done;
}

u64 balloon_oom_deflate(struct balloon *b, u64 n)
{
	if (!virtio_has(&b->vd, VIRTIO_BALLOON_F_DEFLATE_ON_OOM) && !(b->o.brk & BRK_OOM))
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

u64 balloon_deflate_run(struct balloon *b, u64 pfn, u64 n)
{
	u64 done = 0;

	for (u64 i = 0; i < n; i++)
		assert(balloon_page_in(b, pfn + i));	/* 5.5.6.1: only acknowledged pages */
	while (done < n) {
		struct balloon_req *r = get_req(b, b->dvq);
		u64 t;

		begin(b, r, false, true);
		t = b->enc->add(r, pfn + done, n - done);
		bits_clear(b->in_balloon, pfn + done, t);
		done += t;
		submit(b, r);
	}
	drain(b, b->dvq);
	balloon_update_actual(b);
	return done;
}

/* ---- config ---- */

u32 balloon_num_pages(struct balloon *b)
{
	u32 cfg[2];

	virtio_cread_stable(&b->vd, CFG_NUM_PAGES, cfg, sizeof(cfg));
	if (b->o.brk & BRK_CONFIG_BE)
		return __builtin_bswap32(cfg[0]);
	return cfg[0];	/* le32 (5.5.4, also for legacy); x86 is little-endian */
}

u32 balloon_read_actual(struct balloon *b)
{
	return virtio_cread32(&b->vd, CFG_ACTUAL);
}

void balloon_update_actual(struct balloon *b)
{
	u32 v = (u32)b->nr_pages;

	if (b->o.brk & BRK_NO_ACTUAL)
		return;
	if (b->o.brk & BRK_ACTUAL_BYTES) {
		for (int i = 0; i < 4; i++)
			virtio_cwrite8(&b->vd, CFG_ACTUAL + i, v >> (8 * i));
	} else {
		virtio_cwrite32(&b->vd, CFG_ACTUAL, v);	/* 5.5.6.2.1: one 4-byte write */
	}
	b->actual_written = v;
}

u32 balloon_follow(struct balloon *b)
{
	u32 target = balloon_num_pages(b);

	b->cfg_changes_seen = b->vd.config_changes;
	if (b->o.brk & BRK_IGNORE_CONFIG)
		target = (u32)b->nr_pages;	/* the rule broken on purpose: num_pages not followed */
	if (target > b->nr_pages)
		balloon_inflate(b, target - b->nr_pages);
	else if (target < b->nr_pages)
		balloon_deflate(b, b->nr_pages - target);
	balloon_update_actual(b);
	balloon_host_poll(b);
	return target;
}

/* ---- stats (5.5.6.3) ---- */

void balloon_stats_default_values(struct balloon *b)
{
	for (int i = 0; i < VIRTIO_BALLOON_S_NR; i++)
		b->stats_val[i] = 0x1000 * (i + 1) + b->stats_rounds;
	b->stats_val[VIRTIO_BALLOON_S_MEMFREE] = pool_free_pages(&guest_pool) * PAGE_SIZE;
	b->stats_val[VIRTIO_BALLOON_S_MEMTOT] = guest_pool.nr_usable * PAGE_SIZE;
	b->stats_val[VIRTIO_BALLOON_S_AVAIL] = pool_free_pages(&guest_pool) * PAGE_SIZE;
}

static u32 stats_fill(struct balloon *b)
{
	struct virtio_balloon_stat *s = b->stats_buf;
	u32 n = 0;

	/* one tag the device does not know, which it must ignore (5.5.6.3.2) ... */
	s[n].tag = 0x7ff0;
	s[n].val = 0xdeadbeef;
	n++;
	/* ... then every standard tag, highest first (devices accept any order) */
	for (int i = VIRTIO_BALLOON_S_NR - 1; i >= 0; i--) {
		s[n].tag = i;
		s[n].val = b->stats_val[i] + ((b->o.brk & BRK_STATS_VALUES) ? 1 : 0);
		n++;
	}
	/* break=stats-len: cut the last entry short (D7: length a multiple of the entry size) */
	return n * sizeof(*s) - ((b->o.brk & BRK_STATS_LEN) ? 4 : 0);
}

static void stats_post(struct balloon *b)
{
	struct vq_sg sg = { virt_to_phys(b->stats_buf), stats_fill(b), false };

	assert(vq_empty(b->svq));	/* 5.5.6.3.1: at most one buffer */
	if (vq_add(b->svq, &sg, 1, b->stats_buf))
		panic("balloon: stats queue full");
	b->stats_posted = true;
}

bool balloon_stats_poll(struct balloon *b)
{
	u32 len;

	if (!b->svq || !vq_get_used(b->svq, &len))
		return false;
	b->stats_rounds++;
	stats_post(b);
	vq_kick(b->svq);
	return true;
}

/* ---- free page reporting (5.5.6.7) ---- */

int balloon_report(struct balloon *b, u64 pfn, u64 n)
{
	struct vq_sg sg = { pfn << PAGE_SHIFT, n * PAGE_SIZE, true };
	u32 len;

	if (!b->rvq)
		return -1;
	if (b->poison && !(b->o.brk & BRK_NO_POISON))
		fill_u32(pfn, n, b->poison_val);	/* 5.5.6.7.1 */
	if (vq_add(b->rvq, &sg, 1, b))
		return -1;
	vq_kick(b->rvq);
	if (!vq_wait(b->rvq, WAIT_MS))
		return -1;
	vq_get_used(b->rvq, &len);
	return 0;
}

/* ---- host requests (FB-D9..D12) ---- */

#define HREQ_SLOTS_MAX 16
#define HREQ_SLOT_BYTES 64	/* >= 24 (FB-D9) */
#define FP_BUF_BYTES (64u << 10)	/* one FREE_PAGES answer buffer: 512K pages of bitmap */
#define FP_CHUNK_WORDS 512	/* bitmap words per BITMAP record at most (128 MiB of pages) */

static void hreq_post(struct balloon *b, u32 i)
{
	u8 *slot = b->hreq_buf + i * HREQ_SLOT_BYTES;
	struct vq_sg sg = { virt_to_phys(slot), HREQ_SLOT_BYTES, true };

	memset(slot, 0, HREQ_SLOT_BYTES);
	if (vq_add(b->hqvq, &sg, 1, slot))
		panic("balloon: host_req_vq full");
}

u32 balloon_hreq_posted(struct balloon *b)
{
	return b->hqvq ? b->hqvq->num - b->hqvq->num_free : 0;
}

bool balloon_send_raw(struct balloon *b, struct virtqueue *vq, const struct vq_sg *sg, int n, u64 timeout_ms)
{
	static int cookie;
	u32 len;

	while (vq_add(vq, sg, n, &cookie)) {
		if (!vq_wait(vq, timeout_ms) || !vq_get_used(vq, &len))
			return false;
	}
	vq_kick(vq);
	if (!vq_wait(vq, timeout_ms))
		return false;
	return vq_get_used(vq, &len) == &cookie;
}

/* take every used host_req_vq buffer: copy the request, post the buffer again (FB-D9) */
static void hreq_collect(struct balloon *b)
{
	u8 *slot;
	u32 len;
	bool any = false;

	if (!b->hqvq)
		return;
	while ((slot = vq_get_used(b->hqvq, &len))) {
		any = true;
		b->host_reqs++;
		if (len >= FB_HOST_REQ_SIZE) {
			struct fb_host_req r;

			memcpy(&r, slot, sizeof(r));
			if (b->id_n < BALLOON_ID_LOG) {
				b->id_log[b->id_n] = r.id;
				b->id_cmd[b->id_n++] = r.cmd;
			}
			if (b->hq_n == ARRAY_SIZE(b->hq_fifo))
				panic("balloon: more than %u host requests waiting", (unsigned)ARRAY_SIZE(b->hq_fifo));
			b->hq_fifo[b->hq_n++] = r;
		}
		hreq_post(b, (slot - b->hreq_buf) / HREQ_SLOT_BYTES);
	}
	if (any)
		vq_kick(b->hqvq);
}

/* remove and return true if a CANCEL for id waits in the fifo */
static bool hreq_take_cancel(struct balloon *b, u64 id)
{
	for (u32 i = 0; i < b->hq_n; i++)
		if (b->hq_fifo[i].cmd == FB_CMD_CANCEL && b->hq_fifo[i].param == id &&
		    !b->hq_fifo[i].reserved0 && !b->hq_fifo[i].reserved1) {
			memmove(&b->hq_fifo[i], &b->hq_fifo[i + 1], (b->hq_n - i - 1) * sizeof(b->hq_fifo[0]));
			b->hq_n--;
			return true;
		}
	return false;
}

static u64 put_rec(void *out, u16 type, u16 flags, u64 id, u64 start, u64 len)
{
	struct fb_hdr *h = out;

	memset(h, 0, sizeof(*h));
	h->type = type;
	h->page_shift = 12;
	h->flags = flags;
	h->req_id = id;
	h->start_pfn = start;
	h->len = len;
	return sizeof(*h) + len;
}

static void resp_send(struct balloon *b, const void *buf, u64 len)
{
	struct vq_sg sg = { virt_to_phys(buf), (u32)len, false };

	if (!balloon_send_raw(b, b->hrvq, &sg, 1, WAIT_MS))
		panic("balloon: host_resp_vq: answer not used after %u ms", WAIT_MS);
	b->host_answers++;
}

/* one record alone in hresp_buf (STATUS or an empty page record) */
static void resp_one(struct balloon *b, u16 type, u16 flags, u64 id, bool status, u64 value)
{
	u64 n = put_rec(b->hresp_buf, type, flags, id, 0, status ? 8 : 0);

	if (status)
		*(u64 *)(b->hresp_buf + sizeof(struct fb_hdr)) = value;
	resp_send(b, b->hresp_buf, n);
}

struct fp_ans {
	struct balloon *b;
	u64 id;
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

/* send the buffer so far; between buffers, look for a CANCEL of this answer */
static void fp_flush(struct fp_ans *a)
{
	struct balloon *b = a->b;

	if (a->w.buf) {
		a->len = a->w.len;
		b->hs.records += a->w.records;
		fp_tag(a);
	}
	if (a->len) {
		resp_send(b, b->fp_buf, a->len);
		b->hs.buffers++;
	}
	a->len = 0;
	if (a->w.buf)
		fb_writer_init(&a->w, b->fp_buf, b->fp_buf_cap);
	hreq_collect(b);
	if (!a->cancelled && !(b->o.brk & BRK_NO_DONE) && hreq_take_cancel(b, a->id)) {
		a->cancelled = true;
		b->hs.cancels++;
		b->hs.cut_short++;
	}
}

/* name [pfn, pfn+n) in the answer (RANGES, or BITMAP for the break=hint-used range) */
static void fp_add_run(struct fp_ans *a, u64 pfn, u64 n)
{
	struct balloon *b = a->b;

	a->b->hs.pages += n;
	if (a->w.buf) {
		while (n && !a->cancelled) {
			u64 t = fb_add_ranges(&a->w, pfn, n, 12);

			pfn += t;
			n -= t;
			if (n)
				fp_flush(a);
		}
		return;
	}
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
 * FREE_PAGES: the pool's free bitmap is the answer. BITMAP records copy it a
 * 64-bit word at a time (a set bit is a free page, as in the pool), one
 * record per chunk of up to FP_CHUNK_WORDS words that has a free page, from
 * its first to its last non-zero word; RANGES records walk it run by run.
 * The pages stay in the pool: whoever takes one later writes it before
 * reading it (page_alloc zeroes, the cache and data sets fill), so naming
 * them is allowed (FB-D11), and the dirty log brings writes back.
 */
static void answer_free_pages(struct balloon *b, u64 id)
{
	struct fp_ans a = { .b = b, .id = id };
	const u64 *bm = guest_pool.bitmap;
	u64 words = (guest_pool.max_pfn + 63) / 64, t0 = now_ns();
	bool bitmap = virtio_has(&b->vd, FB_F_PAGE_BITMAP);

	b->hs.requests++;
	if (!bitmap)
		fb_writer_init(&a.w, b->fp_buf, b->fp_buf_cap);
	for (u64 c = 0; c < words && !a.cancelled; c += FP_CHUNK_WORDS) {
		u64 end = MIN(c + FP_CHUNK_WORDS, words), first = end, last = 0;

		for (u64 w = c; w < end; w++)
			if (bm[w]) {
				if (first == end)
					first = w;
				last = w;
			}
		if (first == end)
			continue;
		if (bitmap) {
			u64 nw = last - first + 1, need = sizeof(struct fb_hdr) + nw * 8;

			if (a.len + need > b->fp_buf_cap)
				fp_flush(&a);
			if (a.cancelled)
				break;
			a.len += put_rec(b->fp_buf + a.len, FB_REC_BITMAP, 0, id, first * 64, nw * 8) - nw * 8;
			memcpy(b->fp_buf + a.len, &bm[first], nw * 8);
			a.len += nw * 8;
			b->hs.records++;
			for (u64 w = first; w <= last; w++)
				b->hs.pages += __builtin_popcountll(bm[w]);
		} else {
			for (u64 w = first; w <= last && !a.cancelled; w++) {
				u64 x = bm[w];

				while (x && !a.cancelled) {
					u64 bit = __builtin_ctzll(x), len = ~(x >> bit) ? (u64)__builtin_ctzll(~(x >> bit)) : 64 - bit;

					fp_add_run(&a, w * 64 + bit, len);
					x = len + bit >= 64 ? 0 : x & ~(((1ull << len) - 1) << bit);
				}
			}
		}
	}
	if ((b->o.brk & BRK_HINT_USED) && b->brk_n && !a.cancelled)
		fp_add_run(&a, b->brk_pfn, b->brk_n);	/* the rule broken on purpose: pages in use */
	if (b->fp_hold || (b->o.brk & BRK_NO_DONE)) {
		fp_flush(&a);
		if (b->fp_hold && !a.cancelled)
			b->fp_hold_id = id;	/* DONE when its CANCEL comes (FB-V15 probe) */
		else if (b->fp_hold)
			goto done_rec;
		b->hs.ns += now_ns() - t0;
		return;
	}
done_rec:
	/* the last record: DONE, naming nothing (FB-D10) */
	if (a.w.buf) {
		a.len = a.w.len;
		b->hs.records += a.w.records;
		fp_tag(&a);
		a.w.buf = NULL;
	}
	if (a.len + sizeof(struct fb_hdr) > b->fp_buf_cap)
		fp_flush(&a);
	a.len += put_rec(b->fp_buf + a.len, bitmap ? FB_REC_BITMAP : FB_REC_RANGES, FB_FLAG_DONE, id, 0, 0);
	b->hs.records++;
	resp_send(b, b->fp_buf, a.len);
	b->hs.buffers++;
	b->hs.done++;
	b->hs.ns += now_ns() - t0;
}

/*
 * fp_hold: the answer's CANCEL came. Probe the device's handling of ended
 * ids: a record for the cancelled id (stale-records +1), its DONE (stale,
 * it finishes the request), then one more record for the now finished id
 * (bad-records +1, FB-V15 row 6).
 */
static void hold_cancelled(struct balloon *b, u64 id)
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

u64 balloon_host_poll(struct balloon *b)
{
	u64 seen = 0;
	u16 type;

	if (!b->hqvq)
		return 0;
	type = virtio_has(&b->vd, FB_F_PAGE_BITMAP) ? FB_REC_BITMAP : FB_REC_RANGES;
	hreq_collect(b);
	while (b->hq_n) {
		struct fb_host_req r = b->hq_fifo[0];

		memmove(&b->hq_fifo[0], &b->hq_fifo[1], (b->hq_n - 1) * sizeof(r));
		b->hq_n--;
		seen++;
		if (!r.id || r.reserved0 || r.reserved1 ||
		    (r.cmd != FB_CMD_DROP_CACHE && r.cmd != FB_CMD_FREE_PAGES && r.cmd != FB_CMD_CANCEL)) {
			u64 n = fb_answer_host_req(&r, sizeof(r), type, b->hresp_buf, PAGE_SIZE);	/* FB-D12 */

			if (n)
				resp_send(b, b->hresp_buf, n);
			continue;
		}
		switch (r.cmd) {
		case FB_CMD_CANCEL:
			if (b->fp_hold_id && r.param == b->fp_hold_id) {
				b->hs.cancels++;
				hold_cancelled(b, r.param);
			} else {
				b->hs.cancels_ignored++;	/* its answer had ended: nothing to stop */
			}
			break;
		case FB_CMD_DROP_CACHE:
			if (r.param < 1 || r.param > 3) {
				resp_one(b, FB_REC_STATUS, FB_FLAG_DONE, r.id, true, ~0ull);	/* not a kind we know */
				break;
			}
			{
				u64 freed = b->drop_cache ? b->drop_cache((u32)r.param, b->drop_ctx) : 0;

				b->drop_reqs++;
				b->drop_pages += freed;
				resp_one(b, FB_REC_STATUS, FB_FLAG_DONE, r.id, true, freed);
			}
			break;
		case FB_CMD_FREE_PAGES:
			if (b->fp_hold_id)	/* a new round before the old one's CANCEL: end the old one */
				hold_cancelled(b, b->fp_hold_id);
			answer_free_pages(b, r.id);
			break;
		}
	}
	return seen;
}

/* ---- upstream FREE_PAGE_HINT (virtio 1.2 5.5.6.x; QEMU's free_page_vq) ---- */

#define FPH_CMD_ID_STOP 0
#define FPH_CMD_ID_DONE 1
#define FPH_CMD_ID_MIN 0x80000000u
#define FPH_SG 16			/* in-buffers per descriptor chain */
#define FPH_SG_MAX (1u << 30)		/* bytes per in-buffer entry */

/*
 * free_page_vq runs without used-buffer interrupts, as Linux's (no callback):
 * QEMU 7.2's iothread returns these buffers and would raise INTx without the
 * BQL, which under TCG aborts QEMU (tcg_handle_interrupt asserts). Polled;
 * the suppression is renewed on every reap (EVENT_IDX moves with last_used).
 */
static void fph_reap(struct balloon *b)
{
	u32 len;

	while (vq_get_used(b->fvq, &len))
		;
	vq_disable_irq(b->fvq);
}

static void fph_add(struct balloon *b, const struct vq_sg *sg, int n)
{
	while (vq_add(b->fvq, sg, n, b)) {
		vq_kick(b->fvq);
		if (!vq_wait(b->fvq, WAIT_MS))
			panic("balloon: free_page_vq: no used buffer after %u ms", WAIT_MS);
		fph_reap(b);
	}
}

static void fph_send_id(struct balloon *b, u32 id)
{
	/* a ring of 4-byte slots: an id buffer may still be in the queue */
	static u32 next;
	u32 *p = &b->fph_idbuf[next++ % (PAGE_SIZE / 4)];
	struct vq_sg sg = { virt_to_phys(p), 4, false };

	*p = id;	/* le32 */
	fph_add(b, &sg, 1);
	vq_kick(b->fvq);
}

static void isr_poll(struct balloon *b)
{
	u8 isr;

	if (!b->isr_poll)
		return;
	isr = b->vd.tp->read_isr(&b->vd);	/* reading clears it */
	if (isr & 1)
		b->vd.queue_irqs++;
	if (isr & 2)
		b->vd.config_changes++;
}

/* has the device asked us to stop (config changed to STOP/DONE or another id)? */
static bool fph_stopped(struct balloon *b, u32 id)
{
	isr_poll(b);
	if (b->vd.config_changes == b->fph_cfg_seen)
		return false;
	return virtio_cread32(&b->vd, CFG_CMD_ID) != id;
}

struct fph_ctx {
	struct balloon *b;
	u32 id;
	struct vq_sg sg[FPH_SG];
	int n;
	bool stopped;
};

static void fph_flush(struct fph_ctx *c)
{
	if (!c->n)
		return;
	fph_add(c->b, c->sg, c->n);
	c->b->fs.buffers++;
	c->n = 0;
	vq_kick(c->b->fvq);
	fph_reap(c->b);
	if (fph_stopped(c->b, c->id))
		c->stopped = true;
}

static void fph_run(struct fph_ctx *c, u64 pfn, u64 n)
{
	while (n && !c->stopped) {
		u64 take = MIN(n, (u64)FPH_SG_MAX >> PAGE_SHIFT);

		c->sg[c->n].addr = pfn << PAGE_SHIFT;
		c->sg[c->n].len = take << PAGE_SHIFT;
		c->sg[c->n].write = true;
		c->n++;
		c->b->fs.records++;
		c->b->fs.pages += take;
		pfn += take;
		n -= take;
		if (c->n == FPH_SG)
			fph_flush(c);
	}
}

/*
 * One hinting round for cmd id 'id': the id as an out-buffer, the free runs
 * of the pool as in-buffers (device-writable, their contents undefined to us
 * until DONE; we never read a free page before writing it, D8), then STOP.
 */
static void fph_hint(struct balloon *b, u32 id)
{
	struct fph_ctx c = { .b = b, .id = id };
	const u64 *bm = guest_pool.bitmap;
	u64 words = (guest_pool.max_pfn + 63) / 64, t0 = now_ns();

	b->fs.requests++;
	if (b->fph_stale_probe && b->fph_last_id) {
		/* V2: a stale id, then pages in use: the device must ignore both */
		struct fph_ctx s = { .b = b, .id = id };

		fph_send_id(b, b->fph_last_id);
		fph_run(&s, b->brk_pfn, b->brk_n);
		fph_flush(&s);
		b->fs.stale_sent++;
		b->fs.pages -= b->brk_n;
	}
	b->fph_last_id = id;
	fph_send_id(b, id);
	for (u64 w = 0; w < words && !c.stopped; w++) {
		u64 x = bm[w];

		while (x && !c.stopped) {
			u64 bit = __builtin_ctzll(x), len, pfn = w * 64 + bit;

			len = ~(x >> bit) ? (u64)__builtin_ctzll(~(x >> bit)) : 64 - bit;
			if (bit + len == 64)	/* the run goes on through following full words */
				while (w + 1 < words && bm[w + 1] == ~0ull) {
					w++;
					len += 64;
				}
			fph_run(&c, pfn, len);
			if (bit + len >= 64 || (pfn + len) / 64 != w)
				x = 0;
			else
				x &= ~(((1ull << len) - 1) << bit);
		}
	}
	if ((b->o.brk & BRK_HINT_USED) && b->brk_n && !c.stopped)
		fph_run(&c, b->brk_pfn, b->brk_n);	/* the rule broken on purpose */
	fph_flush(&c);
	if (c.stopped)
		b->fs.cut_short++;
	fph_send_id(b, FPH_CMD_ID_STOP);	/* the end of our hints, like Linux */
	b->fs.done++;
	b->fs.ns += now_ns() - t0;
}

bool balloon_fph_poll(struct balloon *b)
{
	u32 id;

	if (!b->fvq)
		return false;
	fph_reap(b);
	isr_poll(b);
	/* a change shows as a config interrupt; the id is also polled (a new one is never
	 * 0 or 1, and while hinting runs QEMU shows STOP in the config) */
	id = virtio_cread32(&b->vd, CFG_CMD_ID);
	if (b->vd.config_changes != b->fph_cfg_seen) {
		b->fph_cfg_seen = b->vd.config_changes;
		if (id == FPH_CMD_ID_STOP)
			b->fs.cancels++;
		else if (id == FPH_CMD_ID_DONE)
			b->fs.fph_done_seen++;
	}
	if (id < FPH_CMD_ID_MIN || id == b->fph_last_id)
		return false;
	if (b->fph_nids < BALLOON_ID_LOG)
		b->fph_ids[b->fph_nids++] = id;
	fph_hint(b, id);
	return true;
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

/* ---- init / reset ---- */

static int setup_device(struct balloon *b)
{
	struct virtio_dev *vd = &b->vd;
	u64 want = b->o.features;
	int next = 2;

	if (vd->tp->legacy)
		want &= 0xffffffffull;
	if (b->o.brk & BRK_FEATURES_OK) {
		/* skip the FEATURES_OK read-back: accept whatever was written */
		virtio_reset(vd);
		vd->tp->set_status(vd, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
		vd->features_offered = vd->tp->get_features(vd);
		vd->features = want;
		vd->tp->set_features(vd, want);
		vd->tp->set_status(vd, vd->tp->get_status(vd) | VIRTIO_CONFIG_S_FEATURES_OK);
	} else if (virtio_negotiate(vd, want)) {
		return -2;
	}
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
	if (!b->records || (b->o.brk & BRK_PFN_IN_RECORDS))
		b->enc = &balloon_pfn_encoder;
	else if ((b->o.brk & BRK_RANGES_NOT_NEG) || !virtio_has(vd, FB_F_PAGE_BITMAP))
		b->enc = &balloon_ranges_encoder;
	else
		b->enc = &balloon_bitmap_encoder;
	if (!b->o.batch)
		b->o.batch = b->enc == &balloon_pfn_encoder ? BALLOON_DEFAULT_BATCH : 0xffffffffu;
	if (!b->o.inflight)
		b->o.inflight = b->enc == &balloon_pfn_encoder ? 16 : 4;
	/* FB-V3: the 20-byte config when any of bits 16-18 is offered */
	b->fast_offered = vd->features_offered & ((1ull << FB_F_PAGE_BITMAP) | (1ull << FB_F_PAGE_RANGES) |
						  (1ull << FB_F_HOST_REQ));
	b->granule_shift = b->fast_offered ? virtio_cread32(vd, FB_CFG_GRANULE) : 0;

	/*
	 * 5.5.2: optional queues exist with their feature; later ones move
	 * down. FB-D2: indices follow the features the device offers, counting
	 * a queue whose feature the driver declined.
	 */
	{
		u64 qf = (b->o.brk & BRK_QNUM_NEGOTIATED) ? vd->features : vd->features_offered;

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

	/* 5.5.5 / 5.5.6.6.1: poison_val before DRIVER_OK */
	b->poison = virtio_has(vd, VIRTIO_BALLOON_F_PAGE_POISON);
	b->poison_val = b->o.poison_val;
	if (b->poison && !(b->o.brk & BRK_NO_POISON_VAL))
		virtio_cwrite32(vd, CFG_POISON, b->poison_val);
	if (b->svq) {
		balloon_stats_default_values(b);
		stats_post(b);	/* 5.5.5 2b: one buffer before DRIVER_OK ... */
	}
	b->hq_n = 0;
	b->fp_hold_id = 0;
	b->fph_last_id = 0;
	b->fph_cfg_seen = vd->config_changes;
	if (b->hqvq && !(b->o.brk & BRK_NO_HOSTREQ_BUF))
		for (u32 i = 0; i < b->o.hreq_bufs && i < HREQ_SLOTS_MAX; i++)
			hreq_post(b, i);	/* FB-D9 */
	virtio_driver_ok(vd);
	if (b->svq)
		vq_kick(b->svq);	/* ... and notify after it */
	if (b->hqvq)
		vq_kick(b->hqvq);
	if (vd->msix || vd->intx)
		irq_enable();
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

void balloon_reset(struct balloon *b)
{
	struct virtqueue **qs[] = { &b->ivq, &b->dvq, &b->svq, &b->fvq, &b->rvq, &b->hqvq, &b->hrvq };

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
	for (size_t i = 0; i < ARRAY_SIZE(qs) && !(b->o.brk & BRK_STALE_RINGS); i++)
		if (*qs[i]) {
			vq_free(*qs[i]);
			*qs[i] = NULL;
		}
	if (b->vd.msix)
		pci_msix_disable(b->vd.pci);
	b->stats_posted = false;
}

int balloon_reinit(struct balloon *b)
{
	if (b->o.brk & BRK_STALE_RINGS) {
		/* the rule broken on purpose: no queue set-up after the reset */
		struct virtio_dev *vd = &b->vd;

		if (virtio_negotiate(vd, b->o.features & (vd->tp->legacy ? 0xffffffffull : ~0ull)))
			return -2;
		virtio_driver_ok(vd);
		return 0;
	}
	return setup_device(b);
}
