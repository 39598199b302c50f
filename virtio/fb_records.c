/* fastballoon records: see fb_records.h. Pure C (guest and host unit tests). */
#include "types.h"
#include "virtio/fb_records.h"

typedef unsigned __int128 u128;

static void zero(void *p, u64 n)
{
	u8 *b = p;

	while (n && ((uintptr_t)b & 7)) { *b++ = 0; n--; }
	for (; n >= 8; n -= 8, b += 8)
		*(u64 *)b = 0;
	while (n--)
		*b++ = 0;
}

/* set bits [start, start + n) of a little-endian bitmap of le64 words */
static void set_bits(u64 *bm, u64 start, u64 n)
{
	while (n && (start & 63)) { bm[start / 64] |= 1ull << (start & 63); start++; n--; }
	while (n >= 64) { bm[start / 64] = ~0ull; start += 64; n -= 64; }
	while (n) { bm[start / 64] |= 1ull << (start & 63); start++; n--; }
}

void fb_writer_init(struct fb_writer *w, void *buf, u64 cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->cur = -1;
	w->records = 0;
	w->pages = 0;
}

static struct fb_hdr *open_record(struct fb_writer *w, u16 type, u16 shift, u64 start)
{
	struct fb_hdr *h = (struct fb_hdr *)(w->buf + w->len);

	zero(h, sizeof(*h));
	h->type = type;
	h->page_shift = shift;
	h->start_pfn = start;
	w->cur = (s64)w->len;
	w->len += sizeof(*h);
	w->records++;
	return h;
}

u64 fb_add_bitmap(struct fb_writer *w, u64 pfn, u64 n, u16 shift)
{
	u64 taken = 0;

	while (taken < n) {
		u64 p = pfn + taken, left = n - taken;
		struct fb_hdr *h = w->cur >= 0 ? (struct fb_hdr *)(w->buf + w->cur) : NULL;

		if (h && h->type == FB_REC_BITMAP && h->page_shift == shift && p >= h->start_pfn) {
			u64 bits = h->len * 8, end = h->start_pfn + bits;

			if (p < end || (ALIGN_DOWN(p, 64) - end) / 64 <= FB_BITMAP_GAP_WORDS) {
				u64 want = ALIGN_UP(p + left - h->start_pfn, 64);
				u64 room = (w->cap - w->len) / 8 * 64;
				u64 nb = MIN(want, bits + room), last;

				if (nb > bits) {
					zero(w->buf + w->len, (nb - bits) / 8);
					w->len += (nb - bits) / 8;
					h->len = nb / 8;
				} else {
					nb = bits;
				}
				last = MIN(p + left, h->start_pfn + nb);
				if (last <= p)
					break;	/* full */
				set_bits((u64 *)(h + 1), p - h->start_pfn, last - p);
				taken += last - p;
				continue;
			}
		}
		if (w->cap - w->len < sizeof(struct fb_hdr) + 8)
			break;
		open_record(w, FB_REC_BITMAP, shift, ALIGN_DOWN(p, 64));
	}
	w->pages += taken;
	return taken;
}

u64 fb_add_ranges(struct fb_writer *w, u64 pfn, u64 n, u16 shift)
{
	struct fb_hdr *h = w->cur >= 0 ? (struct fb_hdr *)(w->buf + w->cur) : NULL;
	struct fb_range *e;

	if (!n)
		return 0;
	if (h && h->type == FB_REC_RANGES && h->page_shift == shift) {
		if (h->len) {
			e = (struct fb_range *)(w->buf + w->len) - 1;
			if (e->start_pfn + e->count == pfn) {
				e->count += n;
				w->pages += n;
				return n;
			}
		}
		if (w->cap - w->len < sizeof(*e))
			return 0;
	} else {
		if (w->cap - w->len < sizeof(struct fb_hdr) + sizeof(*e))
			return 0;
		h = open_record(w, FB_REC_RANGES, shift, 0);
	}
	e = (struct fb_range *)(w->buf + w->len);
	e->start_pfn = pfn;
	e->count = n;
	w->len += sizeof(*e);
	h->len += sizeof(*e);
	w->pages += n;
	return n;
}

u64 fb_estimate_bitmap(const struct fb_run *runs, u64 nruns)
{
	u64 bytes = 0, start = 0, end = 0;
	bool open = false;

	for (u64 i = 0; i < nruns; i++) {
		u64 p = runs[i].pfn, e = ALIGN_UP(p + runs[i].n, 64);

		if (!open || p < start || (p >= end && (ALIGN_DOWN(p, 64) - end) / 64 > FB_BITMAP_GAP_WORDS)) {
			if (open)
				bytes += sizeof(struct fb_hdr) + (end - start) / 8;
			start = ALIGN_DOWN(p, 64);
			end = start;
			open = true;
		}
		if (e > end)
			end = e;
	}
	if (open)
		bytes += sizeof(struct fb_hdr) + (end - start) / 8;
	return bytes;
}

u64 fb_estimate_ranges(const struct fb_run *runs, u64 nruns)
{
	u64 entries = 0;

	for (u64 i = 0; i < nruns; i++)
		if (!i || runs[i - 1].pfn + runs[i - 1].n != runs[i].pfn)
			entries++;
	return nruns ? sizeof(struct fb_hdr) + entries * sizeof(struct fb_range) : 0;
}

/* ---- reading ---- */

struct merge {
	fb_run_fn fn;
	void *ctx;
	u64 start, n;
};

static void merge_add(struct merge *m, u64 pfn, u64 n)
{
	if (m->n && m->start + m->n == pfn) {
		m->n += n;
		return;
	}
	if (m->n)
		m->fn(m->start, m->n, m->ctx);
	m->start = pfn;
	m->n = n;
}

static void merge_flush(struct merge *m)
{
	if (m->n)
		m->fn(m->start, m->n, m->ctx);
	m->n = 0;
}

/* runs of set bits of a bitmap of nwords words, bit i = page base + i */
static void bitmap_runs(const u64 *wd, u64 nwords, u64 base, u16 shift, struct merge *m)
{
	u64 run = 0;
	bool open = false;
	unsigned k = shift - 12;

	for (u64 i = 0; i < nwords; i++) {
		u64 x = wd[i];
		unsigned pos = 0;

		if (open && x == ~0ull)
			continue;
		if (!open && !x)
			continue;
		while (pos < 64) {
			if (open) {
				u64 y = ~x >> pos;

				if (!y)
					break;
				pos += __builtin_ctzll(y);
				merge_add(m, (base + run) << k, (i * 64 + pos - run) << k);
				open = false;
			} else {
				u64 y = x >> pos;

				if (!y)
					break;
				pos += __builtin_ctzll(y);
				run = i * 64 + pos;
				open = true;
			}
		}
	}
	if (open)
		merge_add(m, (base + run) << k, (nwords * 64 - run) << k);
}

s64 fb_for_each(const void *buf, u64 len, fb_run_fn fn, void *ctx)
{
	const u8 *b = buf;
	u64 off = 0;
	s64 records = 0;
	struct merge m = { fn, ctx, 0, 0 };

	while (off < len) {
		const struct fb_hdr *h = (const struct fb_hdr *)(b + off);

		if (len - off < sizeof(*h) || h->len > len - off - sizeof(*h) ||
		    h->page_shift < FB_SHIFT_MIN || h->page_shift > FB_SHIFT_MAX)
			return -1;
		if (h->type == FB_REC_BITMAP) {
			if (h->len % 8)
				return -1;
			bitmap_runs((const u64 *)(h + 1), h->len / 8, h->start_pfn, h->page_shift, &m);
		} else if (h->type == FB_REC_RANGES) {
			const struct fb_range *e = (const struct fb_range *)(h + 1);

			if (h->len % 16)
				return -1;
			for (u64 i = 0; i < h->len / 16; i++)
				merge_add(&m, e[i].start_pfn << (h->page_shift - 12), e[i].count << (h->page_shift - 12));
		} else {
			return -1;
		}
		records++;
		off += sizeof(*h) + h->len;
	}
	merge_flush(&m);
	return records;
}

/* ---- the device model ----
 * "Overflows 2^64" (rows 9 and 11) is read as the device reads it: the end
 * address of the named span must fit 64 bits, so a span ending exactly at
 * 2^64 is rejected although FB-D6 lets a page end there (docs/conformance.md
 * lists this as an open question for docs/protocol.md). */

struct stream {
	const struct fb_seg *segs;
	u32 nsegs;
	u64 total;
};

static void stream_read(const struct stream *s, u64 off, void *dst, u64 n)
{
	u8 *d = dst;

	for (u32 i = 0; i < s->nsegs && n; i++) {
		if (off >= s->segs[i].len) {
			off -= s->segs[i].len;
			continue;
		}
		u64 t = MIN(n, s->segs[i].len - off);
		const u8 *src = (const u8 *)s->segs[i].addr + off;

		for (u64 k = 0; k < t; k++)
			d[k] = src[k];
		d += t;
		n -= t;
		off = 0;
	}
}

struct clip {
	const struct fb_model *m;
	fb_run_fn fn;
	void *ctx;
	struct fb_verdict *v;
	bool outside;
};

/* named bytes [a, e) (e may be 2^64): RAM pieces to fn, note anything outside */
static void clip_named(struct clip *c, u128 a, u128 e)
{
	u128 covered = 0;

	for (u32 i = 0; i < c->m->nram; i++) {
		u128 s = MAX(a, (u128)c->m->ram[i].start), t = MIN(e, (u128)c->m->ram[i].end);

		if (s >= t)
			continue;
		covered += t - s;
		c->v->named_in_ram += (u64)((t - s) >> 12);
		if (c->fn)
			c->fn((u64)(s >> 12), (u64)((t - s) >> 12), c->ctx);
	}
	if (covered != e - a)
		c->outside = true;
}

static void bad(struct fb_verdict *v, unsigned row)
{
	v->bad++;
	v->rows |= 1u << row;
}

void fb_model_buffer(const struct fb_model *m, const struct fb_seg *segs, u32 nsegs,
		     fb_run_fn fn, void *ctx, struct fb_verdict *v)
{
	struct stream s = { segs, nsegs, 0 };
	struct clip c = { m, fn, ctx, v, false };
	u64 off = 0;

	zero(v, sizeof(*v));
	for (u32 i = 0; i < nsegs; i++) {
		if (segs[i].write) {
			bad(v, 1);
			return;
		}
		s.total += segs[i].len;
	}
	if (!s.total) {
		bad(v, 2);
		return;
	}
	while (off < s.total) {
		struct fb_hdr h;
		u64 pstart, plen;

		if (s.total - off < sizeof(h)) {
			bad(v, 3);
			return;
		}
		stream_read(&s, off, &h, sizeof(h));
		v->records++;
		if (h.len > s.total - off - sizeof(h)) {
			bad(v, 4);
			return;
		}
		pstart = off + sizeof(h);
		plen = h.len;
		off = pstart + plen;
		if ((h.type != FB_REC_BITMAP && h.type != FB_REC_RANGES) || !(m->types & (1u << h.type))) {
			bad(v, 5);
			continue;
		}
		if (h.reserved || h.flags || h.req_id || (h.type == FB_REC_RANGES && h.start_pfn)) {
			bad(v, 6);
			continue;
		}
		if (h.page_shift < FB_SHIFT_MIN || h.page_shift > FB_SHIFT_MAX) {
			bad(v, 7);
			continue;
		}
		if (h.type == FB_REC_BITMAP ? plen % 8 : plen % 16) {
			bad(v, 8);
			continue;
		}
		if (h.type == FB_REC_BITMAP) {
			u128 end = (u128)h.start_pfn + (u128)plen * 8;
			u64 run = 0;
			bool open = false;

			if (end > ~0ull || (end << h.page_shift) >= ((u128)1 << 64)) {
				bad(v, 9);
				continue;
			}
			c.outside = false;
			for (u64 wi = 0; wi < plen / 8; wi++) {
				u64 x;

				stream_read(&s, pstart + wi * 8, &x, 8);
				for (unsigned bit = 0; bit < 64; bit++) {
					bool set = (x >> bit) & 1;
					u64 i = wi * 64 + bit;

					if (set && !open) {
						run = i;
						open = true;
					} else if (!set && open) {
						clip_named(&c, (u128)(h.start_pfn + run) << h.page_shift,
							   (u128)(h.start_pfn + i) << h.page_shift);
						open = false;
					}
					if (!x && !open)
						break;	/* empty word */
				}
			}
			if (open)
				clip_named(&c, (u128)(h.start_pfn + run) << h.page_shift, end << h.page_shift);
			if (c.outside)
				bad(v, 12);
		} else {
			for (u64 k = 0; k < plen / 16; k++) {
				struct fb_range e;
				u128 end;

				stream_read(&s, pstart + k * 16, &e, sizeof(e));
				end = (u128)e.start_pfn + e.count;
				if (!e.count) {
					bad(v, 10);
					continue;
				}
				if (end > ~0ull || (end << h.page_shift) >= ((u128)1 << 64)) {
					bad(v, 11);
					continue;
				}
				c.outside = false;
				clip_named(&c, (u128)e.start_pfn << h.page_shift, end << h.page_shift);
				if (c.outside)
					bad(v, 12);
			}
		}
	}
}

/* ---- host requests ---- */

static u64 put_hdr(void *out, u16 type, u64 id, u64 len)
{
	struct fb_hdr *h = out;

	zero(h, sizeof(*h));
	h->type = type;
	h->page_shift = 12;
	h->flags = FB_FLAG_DONE;
	h->req_id = id;
	h->len = len;
	return sizeof(*h) + len;
}

u64 fb_answer_host_req(const void *req, u32 req_len, u16 rec_type, void *out, u64 cap)
{
	struct fb_host_req r;
	const u8 *src = req;
	u8 *d = (u8 *)&r;
	bool known;

	if (cap < sizeof(struct fb_hdr) + 8 || req_len < sizeof(r))
		return 0;
	for (u32 i = 0; i < sizeof(r); i++)
		d[i] = src[i];
	if (!r.id)
		return 0;	/* nothing to answer to (FB-D12: only non-zero ids) */
	known = r.cmd == FB_CMD_DROP_CACHE || r.cmd == FB_CMD_FREE_PAGES || r.cmd == FB_CMD_CANCEL;
	if (!known || r.reserved0 || r.reserved1) {
		u64 n = put_hdr(out, FB_REC_STATUS, r.id, 8);

		*(u64 *)((u8 *)out + sizeof(struct fb_hdr)) = ~0ull;	/* FB-D12 */
		return n;
	}
	if (r.cmd == FB_CMD_CANCEL)
		return 0;	/* answers end at once, nothing is outstanding */
	if (r.cmd == FB_CMD_DROP_CACHE) {
		u64 n = put_hdr(out, FB_REC_STATUS, r.id, 8);

		*(u64 *)((u8 *)out + sizeof(struct fb_hdr)) = 0;	/* nothing dropped: the balloon driver serves DROP_CACHE itself */
		return n;
	}
	/* FREE_PAGES: the DONE record, naming nothing (FB-D10) */
	return put_hdr(out, rec_type, r.id, 0);
}
