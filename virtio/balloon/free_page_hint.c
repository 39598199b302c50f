/* Upstream FREE_PAGE_HINT (virtio 1.2 5.5.6.x; QEMU's free_page_vq). */
#include "types.h"
#include "io.h"
#include "pages.h"
#include "report.h"
#include "timer.h"
#include "virtio/balloon/internal.h"

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

/* tests' V2 probe, before a new id: the previous (stale) id, then pages in use; the device must ignore both */
static void fph_send_stale(struct balloon *b, u32 id)
{
	struct fph_ctx s = { .b = b, .id = id };

	fph_send_id(b, b->fph_last_id);
	fph_run(&s, b->brk_pfn, b->brk_n);
	fph_flush(&s);
	b->fs.stale_sent++;
	b->fs.pages -= b->brk_n;
}

/* the free runs of the pool, until the device says stop */
static void fph_walk(struct fph_ctx *c)
{
	const u64 *bm = guest_pool.bitmap;
	u64 words = (guest_pool.max_pfn + 63) / 64;

	for (u64 w = 0; w < words && !c->stopped; w++) {
		u64 x = bm[w];

		while (x && !c->stopped) {
			u64 bit = __builtin_ctzll(x), len, pfn = w * 64 + bit;

			len = ~(x >> bit) ? (u64)__builtin_ctzll(~(x >> bit)) : 64 - bit;
			if (bit + len == 64)	/* the run goes on through following full words */
				while (w + 1 < words && bm[w + 1] == ~0ull) {
					w++;
					len += 64;
				}
			fph_run(c, pfn, len);
			if (bit + len >= 64 || (pfn + len) / 64 != w)
				x = 0;
			else
				x &= ~(((1ull << len) - 1) << bit);
		}
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
	u64 t0 = now_ns();

	b->fs.requests++;
	if (b->fph_stale_probe && b->fph_last_id)
		fph_send_stale(b, id);
	b->fph_last_id = id;
	fph_send_id(b, id);
	fph_walk(&c);
	if (brk(b, BRK_HINT_USED) && b->brk_n && !c.stopped)
		fph_run(&c, b->brk_pfn, b->brk_n);	/* and pages in use */
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
