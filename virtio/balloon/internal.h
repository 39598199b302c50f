/*
 * What the balloon driver's files share. Callers use balloon.h only; the
 * spec references are to virtio 1.2 section 5.5, FB-* to docs/protocol.md.
 */
#ifndef VIRTIO_BALLOON_INTERNAL_H
#define VIRTIO_BALLOON_INTERNAL_H
#include "types.h"
#include "pages.h"
#include "virtio/balloon/balloon.h"

#define CFG_NUM_PAGES 0
#define CFG_ACTUAL 4
#define CFG_CMD_ID 8
#define CFG_POISON 12
#define WAIT_MS 20000
#define RUNS_CAP (1u << 16)	/* runs per round of a bulk inflate/deflate */

#define HREQ_SLOTS_MAX 16
#define HREQ_SLOT_BYTES 64	/* >= 24 (FB-D9) */
#define FP_BUF_BYTES (64u << 10)	/* one FREE_PAGES answer buffer: 512K pages of bitmap */

static inline u64 npages(u64 bytes) { return (bytes + PAGE_SIZE - 1) / PAGE_SIZE; }

/*
 * The one way the driver reads a negative-test knob (breaks.h): true when
 * this run was told to break that rule. Each call is the hook where the
 * behaviour changes; breaks.c holds what a knob does beyond a line.
 */
static inline bool brk(const struct balloon *b, enum balloon_break k)
{
	return b->o.brk & k;
}

void brk_accept_features(struct virtio_dev *vd, u64 want);
const struct balloon_encoder *brk_wrong_encoder(struct balloon *b);
void brk_write_actual_bytes(struct balloon *b, u32 v);
void brk_reuse_early(struct balloon *b, struct balloon_req *r);
int brk_reinit_stale_rings(struct balloon *b);

/* ---- bitmap of ballooned pages ---- */

static inline void bits_set(u64 *bm, u64 start, u64 n)
{
	while (n && (start & 63)) { bm[start / 64] |= 1ull << (start & 63); start++; n--; }
	while (n >= 64) { bm[start / 64] = ~0ull; start += 64; n -= 64; }
	while (n) { bm[start / 64] |= 1ull << (start & 63); start++; n--; }
}

static inline void bits_clear(u64 *bm, u64 start, u64 n)
{
	while (n && (start & 63)) { bm[start / 64] &= ~(1ull << (start & 63)); start++; n--; }
	while (n >= 64) { bm[start / 64] = 0; start += 64; n -= 64; }
	while (n) { bm[start / 64] &= ~(1ull << (start & 63)); start++; n--; }
}

/* ---- requests.c: the inflate/deflate request pipeline ---- */

/* pages the device may have discarded hold poison_val before the guest uses them */
void poison_pages(struct balloon *b, u64 pfn, u64 n);
/* for_each callbacks (ctx: the request): pages back to the guest, deflate acknowledged */
void release_run(u64 pfn, u64 n, void *ctx);
void deflate_done_run(u64 pfn, u64 n, void *ctx);
/* a free request slot; reaps vq until one is free */
struct balloon_req *req_get(struct balloon *b, struct virtqueue *vq);
/* start encoding r for inflateq (or deflateq); keep: deflated pages go back to the caller */
void req_begin(struct balloon *b, struct balloon_req *r, bool inflate, bool keep);
/* add r to its queue (not notified) */
void req_submit(struct balloon *b, struct balloon_req *r);
/* notify vq and wait until every request on it was used */
void req_drain(struct balloon *b, struct virtqueue *vq);
/* one bulk round: send b->runs[0..nruns) in as few buffers as fit; returns pages */
u64 send_runs(struct balloon *b, bool inflate);

/* ---- bitmap.c: the pieces both record encoders share (ranges.c) ---- */

u64 balloon_rec_buf_bytes(u64 max_pages);
void balloon_rec_begin(struct balloon_req *r);
u64 balloon_rec_add(struct balloon_req *r, u64 pfn, u64 n,
		    u64 (*add)(struct fb_writer *w, u64 pfn, u64 n, u16 shift));
void balloon_rec_for_each(struct balloon_req *r, balloon_run_fn fn, void *ctx);

/* ---- stats.c ---- */

/* fill the stats buffer and add it to statsq (not notified) */
void stats_post(struct balloon *b);

/* ---- hostreq.c: host_req_vq and host_resp_vq ---- */

/* post host_req_vq slot i (device-writable, FB-D9) */
void hreq_post(struct balloon *b, u32 i);
/* take every used host_req_vq buffer into b->hq_fifo, post it again */
void hreq_collect(struct balloon *b);
/* remove and return true if a CANCEL for id waits in the fifo */
bool hreq_take_cancel(struct balloon *b, u64 id);
/* write one record header at out; returns the record's bytes (header + len) */
u64 put_rec(void *out, u16 type, u16 flags, u64 id, u64 start, u64 len);
/* send one answer buffer on host_resp_vq and wait for it */
void resp_send(struct balloon *b, const void *buf, u64 len);
/* send one record alone: STATUS (value) or an empty page record */
void resp_one(struct balloon *b, u16 type, u16 flags, u64 id, bool status, u64 value);

/* ---- free_pages.c: FREE_PAGES answers ---- */

void answer_free_pages(struct balloon *b, u64 id);
/* fp_hold: the held answer's CANCEL came (or a new round did): end it (FB-V15 probe) */
void fp_hold_cancelled(struct balloon *b, u64 id);
#endif
