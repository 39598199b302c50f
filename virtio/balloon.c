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
#include "virtio/balloon.h"

#define CFG_NUM_PAGES 0
#define CFG_ACTUAL 4
#define CFG_CMD_ID 8
#define CFG_POISON 12
#define WAIT_MS 20000

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
	o->batch = BALLOON_DEFAULT_BATCH;
	o->inflight = 16;
	o->msix = true;
}

/*
 * Guest args: transport=modern|legacy, batch=N, inflight=N, sg=1 (page-sized
 * sg entries), qsize=N, msix=0, indirect=0, event_idx=0, packed=0, stats=0,
 * poison=VAL (accept PAGE_POISON), report=1, fph=1, spec_qnum=1,
 * features=MASK (replaces the set), break=a,b.
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
	if (o->batch < 1)
		o->batch = 1;
	if (o->inflight < 1)
		o->inflight = 1;
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
		b->enc->for_each(r, inflate_done_run, b);
	else
		b->enc->for_each(r, deflate_done_run, r);
	r->busy = false;
}

/* take back every used request of vq; with wait, at least one */
static void reap(struct balloon *b, struct virtqueue *vq, bool wait)
{
	struct balloon_req *r;
	u32 len;

	if (wait && !vq_wait(vq, WAIT_MS))
		panic("balloon: queue %u: no used buffer after %u ms", vq->index, WAIT_MS);
	while ((r = vq_get_used(vq, &len)))
		complete(b, r);
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
		b->enc->for_each(r, release_run, r);
	}
}

static void drain(struct balloon *b, struct virtqueue *vq)
{
	bool busy;

	vq_kick(vq);
	do {
		busy = false;
		for (u32 i = 0; i < b->o.inflight; i++)
			if (b->reqs[i].busy && b->reqs[i].vq == vq)
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
	b->enc->begin(r);
}

struct bulk_ctx {
	struct balloon *b;
	struct balloon_req *r;
};

static bool bulk_cb(u64 pfn, u64 n, void *ctx)
{
	struct bulk_ctx *c = ctx;
	u64 t = c->b->enc->add(c->r, pfn, n);

	if (t < n) {	/* the encoder is full: give the rest back */
		pool_free_range(&guest_pool, pfn + t, n - t);
		return false;
	}
	return true;
}

u64 balloon_inflate(struct balloon *b, u64 n)
{
	u64 done = 0;

	while (done < n) {
		struct balloon_req *r = get_req(b, b->ivq);
		struct bulk_ctx c = { b, r };

		begin(b, r, true, false);
		pool_alloc_bulk(&guest_pool, MIN(n - done, r->max_pages), bulk_cb, &c);
		if (!r->pages)
			break;	/* out of memory */
		b->nr_inflight += r->pages;
		done += r->pages;
		submit(b, r);
	}
	drain(b, b->ivq);
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
		while (done < n && b->enc->add(r, pfns[done], 1) == 1)
			done++;
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
		while (done < n && b->enc->add(r, pfns[done], 1) == 1) {
			bits_clear(b->in_balloon, pfns[done], 1);
			done++;
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

/* fill r with ballooned pages, lowest first from the scan hint; clears their bits */
static void take_ballooned(struct balloon *b, struct balloon_req *r, u64 want)
{
	u64 w = b->scan_hint;

	for (; w < b->bitmap_words && r->pages < want; w++) {
		u64 x = b->in_balloon[w];

		while (x && r->pages < want) {
			u64 bit = __builtin_ctzll(x), len, t;
			u64 rest = x >> bit;

			len = ~rest ? (u64)__builtin_ctzll(~rest) : 64 - bit;
			len = MIN(len, want - r->pages);
			t = b->enc->add(r, w * 64 + bit, len);
			bits_clear(b->in_balloon, w * 64 + bit, t);
			x = b->in_balloon[w];
			if (t < len)
				goto out;
		}
		if (x)
			break;
	}
out:
	b->scan_hint = w < b->bitmap_words ? w : 0;
}

u64 balloon_deflate(struct balloon *b, u64 n)
{
	u64 done = 0;
	bool rescanned = false;

	while (done < n) {
		struct balloon_req *r = get_req(b, b->dvq);

		begin(b, r, false, false);
		take_ballooned(b, r, MIN(n - done, r->max_pages));
		if (!r->pages) {
			if (rescanned || !b->scan_hint)
				break;
			b->scan_hint = 0;
			rescanned = true;
			continue;
		}
		done += r->pages;
		submit(b, r);
	}
	drain(b, b->dvq);
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
	if (target > b->nr_pages)
		balloon_inflate(b, target - b->nr_pages);
	else if (target < b->nr_pages)
		balloon_deflate(b, b->nr_pages - target);
	balloon_update_actual(b);
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
	/* 5.5.2: optional queues exist with their feature; later ones move down */
	b->qidx_stats = b->qidx_fph = b->qidx_report = -1;
	if (virtio_has(vd, VIRTIO_BALLOON_F_STATS_VQ))
		b->qidx_stats = b->o.spec_queue_numbers ? 2 : next++;
	if (virtio_has(vd, VIRTIO_BALLOON_F_FREE_PAGE_HINT))
		b->qidx_fph = b->o.spec_queue_numbers ? 3 : next++;
	if (virtio_has(vd, VIRTIO_BALLOON_F_REPORTING))
		b->qidx_report = b->o.spec_queue_numbers ? 4 : next++;

	if (b->o.msix && !virtio_setup_msix(vd))
		virtio_setup_intx(vd);
	b->ivq = vq_setup(vd, 0, b->o.queue_size);
	b->dvq = vq_setup(vd, 1, b->o.queue_size);
	b->svq = b->qidx_stats >= 0 ? vq_setup(vd, b->qidx_stats, 0) : NULL;
	b->fvq = b->qidx_fph >= 0 ? vq_setup(vd, b->qidx_fph, 0) : NULL;
	b->rvq = b->qidx_report >= 0 ? vq_setup(vd, b->qidx_report, 0) : NULL;
	if (!b->ivq || !b->dvq || (b->qidx_stats >= 0 && !b->svq) ||
	    (b->qidx_fph >= 0 && !b->fvq) || (b->qidx_report >= 0 && !b->rvq)) {
		virtio_set_failed(vd);
		return -3;
	}
	if (b->o.inflight > b->ivq->num)
		b->o.inflight = b->ivq->num;

	/* 5.5.5 / 5.5.6.6.1: poison_val before DRIVER_OK */
	b->poison = virtio_has(vd, VIRTIO_BALLOON_F_PAGE_POISON);
	b->poison_val = b->o.poison_val;
	if (b->poison)
		virtio_cwrite32(vd, CFG_POISON, b->poison_val);
	if (b->svq) {
		balloon_stats_default_values(b);
		stats_post(b);	/* 5.5.5 2b: one buffer before DRIVER_OK ... */
	}
	virtio_driver_ok(vd);
	if (b->svq)
		vq_kick(b->svq);	/* ... and notify after it */
	if (vd->msix || vd->intx)
		irq_enable();
	return 0;
}

int balloon_init(struct balloon *b, const struct balloon_opts *o)
{
	u64 buf_pages;

	memset(b, 0, sizeof(*b));
	b->o = *o;
	b->enc = &balloon_pfn_encoder;
	if (virtio_pci_probe(&b->vd, 5 /* VIRTIO_ID_BALLOON */, 0, o->transport))
		return -1;
	b->bitmap_words = (guest_pool.max_pfn + 63) / 64;
	b->in_balloon = pages_alloc(npages(b->bitmap_words * 8));
	b->stats_buf = page_alloc();
	buf_pages = npages(b->enc->buf_bytes(o->batch));
	for (u32 i = 0; i < BALLOON_MAX_INFLIGHT && i < o->inflight; i++) {
		b->reqs[i].buf = pages_alloc(buf_pages);
		b->reqs[i].buf_cap = buf_pages * PAGE_SIZE;
		b->reqs[i].max_pages = o->batch;
		b->reqs[i].b = b;
		if (!b->reqs[i].buf)
			return -4;
	}
	if (!b->in_balloon || !b->stats_buf)
		return -4;
	return setup_device(b);
}

void balloon_reset(struct balloon *b)
{
	struct virtqueue **qs[] = { &b->ivq, &b->dvq, &b->svq, &b->fvq, &b->rvq };

	virtio_reset(&b->vd);
	/* requests in flight are void: their pages are the guest's again, uninitialised */
	for (u32 i = 0; i < b->o.inflight; i++) {
		struct balloon_req *r = &b->reqs[i];

		if (!r->busy)
			continue;
		if (r->inflate) {
			b->nr_inflight -= r->pages;
			r->keep = false;
			b->enc->for_each(r, release_run, r);
		} else {
			/* the device keeps no per-page state over a reset: treat as deflated */
			b->enc->for_each(r, deflate_done_run, r);
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
