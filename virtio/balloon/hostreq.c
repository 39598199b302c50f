/*
 * Host requests (FB-D9..D12, docs/protocol.md): buffers kept posted on
 * host_req_vq, requests taken off it, DROP_CACHE and CANCEL served, answers
 * sent on host_resp_vq. FREE_PAGES answers are in free_pages.c.
 */
#include "types.h"
#include "io.h"
#include "string.h"
#include "report.h"
#include "virtio/balloon/internal.h"

void hreq_post(struct balloon *b, u32 i)
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
void hreq_collect(struct balloon *b)
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
bool hreq_take_cancel(struct balloon *b, u64 id)
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

u64 put_rec(void *out, u16 type, u16 flags, u64 id, u64 start, u64 len)
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

void resp_send(struct balloon *b, const void *buf, u64 len)
{
	struct vq_sg sg = { virt_to_phys(buf), (u32)len, false };

	if (!balloon_send_raw(b, b->hrvq, &sg, 1, WAIT_MS))
		panic("balloon: host_resp_vq: answer not used after %u ms", WAIT_MS);
	b->host_answers++;
}

/* one record alone in hresp_buf (STATUS or an empty page record) */
void resp_one(struct balloon *b, u16 type, u16 flags, u64 id, bool status, u64 value)
{
	u64 n = put_rec(b->hresp_buf, type, flags, id, 0, status ? 8 : 0);

	if (status)
		*(u64 *)(b->hresp_buf + sizeof(struct fb_hdr)) = value;
	resp_send(b, b->hresp_buf, n);
}

/* DROP_CACHE: drop the caches of kind param; STATUS says the pages freed (~0: a kind we do not know) */
static void serve_drop_cache(struct balloon *b, const struct fb_host_req *r)
{
	u64 freed;

	if (r->param < 1 || r->param > 3) {
		resp_one(b, FB_REC_STATUS, FB_FLAG_DONE, r->id, true, ~0ull);
		return;
	}
	freed = b->drop_cache ? b->drop_cache((u32)r->param, b->drop_ctx) : 0;
	b->drop_reqs++;
	b->drop_pages += freed;
	resp_one(b, FB_REC_STATUS, FB_FLAG_DONE, r->id, true, freed);
}

/* CANCEL between answers: only a held answer (tests' fp_hold) is still open */
static void serve_cancel(struct balloon *b, const struct fb_host_req *r)
{
	if (b->fp_hold_id && r->param == b->fp_hold_id) {
		b->hs.cancels++;
		fp_hold_cancelled(b, r->param);
	} else {
		b->hs.cancels_ignored++;	/* its answer had ended: nothing to stop */
	}
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
			serve_cancel(b, &r);
			break;
		case FB_CMD_DROP_CACHE:
			serve_drop_cache(b, &r);
			break;
		case FB_CMD_FREE_PAGES:
			if (b->fp_hold_id)	/* a new round before the old one's CANCEL: end the old one */
				fp_hold_cancelled(b, b->fp_hold_id);
			answer_free_pages(b, r.id);
			break;
		}
	}
	return seen;
}
