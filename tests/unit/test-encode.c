/*
 * Host unit test of virtio/fb_records.c: records built from random run sets
 * read back as exactly those pages (bitmap and ranges, several buffers when
 * one is full), the device model accepts them with no bad record and names
 * the same pages, each FB-V12 row counts as docs/protocol.md says, and the
 * host-request answers follow FB-D10/FB-D12.
 */
#include <stdlib.h>
#include <string.h>
#include "types.h"
#include "virtio/fb_records.h"
#include "tap.h"

#define SPAN 20000
static unsigned char want[SPAN], got[SPAN];
static u64 base_pfn = 0x12340;

static u64 rng = 88172645463325252ull;
static u64 rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static void mark(u64 pfn, u64 n, void *ctx)
{
	int *bad = ctx;

	for (u64 i = 0; i < n; i++) {
		if (pfn + i < base_pfn || pfn + i >= base_pfn + SPAN || got[pfn + i - base_pfn])
			(*bad)++;
		else
			got[pfn + i - base_pfn] = 1;
	}
}

/* random runs, ascending; density in percent, mean run length */
static u64 make_runs(struct fb_run *runs, int density, int meanlen)
{
	u64 n = 0, p = 0;

	memset(want, 0, sizeof(want));
	while (p < SPAN) {
		u64 len = 1 + rnd() % (2 * meanlen);

		if ((int)(rnd() % 100) < density) {
			len = MIN(len, SPAN - p);
			runs[n].pfn = base_pfn + p;
			runs[n].n = len;
			memset(want + p, 1, len);
			n++;
		}
		p += len + (rnd() % 3 == 0);	/* sometimes touching, sometimes a gap */
	}
	return n;
}

static bool roundtrip(const char *fmt, struct fb_run *runs, u64 nruns, u64 cap, u64 *bufs_out, u64 *bytes_out)
{
	static u8 buf[1 << 20];
	struct fb_ram ram = { 0, 1ull << 40 };
	struct fb_model m = { (1u << FB_REC_BITMAP) | (1u << FB_REC_RANGES), &ram, 1 };
	u64 i = 0, off = 0, bufs = 0, bytes = 0;
	int bad = 0, mbad = 0;
	bool ok = true;

	memset(got, 0, sizeof(got));
	while (i < nruns) {
		struct fb_writer w;
		struct fb_seg seg;
		struct fb_verdict v;

		fb_writer_init(&w, buf, cap);
		while (i < nruns) {
			u64 t = fmt[0] == 'b' ? fb_add_bitmap(&w, runs[i].pfn + off, runs[i].n - off, 12)
					      : fb_add_ranges(&w, runs[i].pfn + off, runs[i].n - off, 12);
			off += t;
			if (off == runs[i].n) {
				i++;
				off = 0;
			} else {
				break;
			}
		}
		if (!w.len)
			return false;
		bufs++;
		bytes += w.len;
		if (fb_for_each(buf, w.len, mark, &bad) != (s64)w.records)
			ok = false;
		seg.addr = buf;
		seg.len = w.len;
		seg.write = false;
		/* the model must find the stream valid and name the same pages */
		fb_model_buffer(&m, &seg, 1, NULL, NULL, &v);
		if (v.bad || v.records != w.records)
			mbad++;
	}
	*bufs_out = bufs;
	*bytes_out = bytes;
	return ok && !bad && !mbad && !memcmp(want, got, SPAN);
}

static u64 model_bad(u32 types, const void *b, u64 len, bool write, u64 *named)
{
	struct fb_ram ram[2] = { { 0x100000, 0x20000000 }, { 0x100000000ull, 0x140000000ull } };
	struct fb_model m = { types, ram, 2 };
	struct fb_seg seg = { b, len, write };
	struct fb_verdict v;

	fb_model_buffer(&m, &seg, 1, NULL, NULL, &v);
	if (named)
		*named = v.named_in_ram;
	return v.bad;
}

static u64 rec(u8 *b, u16 type, u16 shift, u64 start, u64 len)
{
	struct fb_hdr *h = (struct fb_hdr *)b;

	memset(h, 0, sizeof(*h));
	h->type = type;
	h->page_shift = shift;
	h->start_pfn = start;
	h->len = len;
	return 32;
}

int main(void)
{
	static struct fb_run runs[SPAN];
	static const struct { int density, mean; const char *what; } sets[] = {
		{ 100, 5000, "contiguous" }, { 50, 1, "every other page" }, { 50, 8, "random half" },
		{ 10, 512, "2 MiB chunks, sparse" }, { 3, 1, "very sparse" },
	};
	const u32 all = (1u << FB_REC_BITMAP) | (1u << FB_REC_RANGES);

	for (unsigned s = 0; s < ARRAY_SIZE(sets); s++) {
		u64 nruns = make_runs(runs, sets[s].density, sets[s].mean), bufs, bytes;
		const char *fmts[] = { "bitmap", "ranges" };

		for (int f = 0; f < 2; f++) {
			u64 caps[] = { 1 << 20, 4096, 200 };

			for (int c = 0; c < 3; c++) {
				bool r = roundtrip(fmts[f], runs, nruns, caps[c], &bufs, &bytes);

				ok(r, "%s, %s, %llu runs, buffers of %llu bytes: pages read back exactly (%llu buffers, %llu bytes)",
				   fmts[f], sets[s].what, (unsigned long long)nruns, (unsigned long long)caps[c],
				   (unsigned long long)bufs, (unsigned long long)bytes);
				if (c == 0)
					ok(bytes == (f ? fb_estimate_ranges(runs, nruns) : fb_estimate_bitmap(runs, nruns)),
					   "%s, %s: estimate equals the encoded size (%llu)", fmts[f], sets[s].what,
					   (unsigned long long)bytes);
			}
		}
	}

	/* contiguous: one record; bitmap words set whole */
	{
		static u8 buf[4096];
		struct fb_writer w;

		fb_writer_init(&w, buf, sizeof(buf));
		ok(fb_add_ranges(&w, 1000, 100000, 12) == 100000 && w.records == 1 && w.len == 48,
		   "one run is one RANGES record with one entry");
		fb_writer_init(&w, buf, sizeof(buf));
		ok(fb_add_bitmap(&w, 64, 64 * 100, 12) == 6400 && w.records == 1 && w.len == 32 + 800,
		   "a 64-aligned run is one BITMAP record of whole words");
		fb_writer_init(&w, buf, 32 + 16);
		ok(fb_add_bitmap(&w, 0, 1000, 12) == 128 && w.len == 48, "a full bitmap buffer takes what fits (128 pages)");
		fb_writer_init(&w, buf, sizeof(buf));
		fb_add_bitmap(&w, 0, 1, 12);
		fb_add_bitmap(&w, 64 * 100, 1, 12);
		ok(w.records == 2, "a far page opens a new BITMAP record (several records per buffer)");
		fb_writer_init(&w, buf, sizeof(buf));
		fb_add_bitmap(&w, 0, 512, 12);
		fb_add_bitmap(&w, 1, 1, 21);
		ok(w.records == 2 && ((struct fb_hdr *)(buf + 32 + 64))->page_shift == 21,
		   "a different page_shift opens a new record");
	}

	/* FB-V12 rows, one each */
	{
		static u8 b[256];
		u64 named, n;

		n = rec(b, FB_REC_RANGES, 12, 0, 16);
		((struct fb_range *)(b + 32))->start_pfn = 0x200;
		((struct fb_range *)(b + 32))->count = 2;
		ok(model_bad(all, b, 48, false, &named) == 0 && named == 2, "valid RANGES: no bad record, 2 pages");
		ok(model_bad(all, b, 48, true, &named) == 1 && named == 0, "row 1: writable buffer ignored");
		ok(model_bad(all, b, 0, false, NULL) == 1, "row 2: empty buffer");
		ok(model_bad(all, b, 20, false, NULL) == 1, "row 3: truncated header");
		ok(model_bad(all, b, 40, false, &named) == 1 && named == 0, "row 4: len past the buffer");
		ok(model_bad(1u << FB_REC_BITMAP, b, 48, false, NULL) == 1, "row 5: type not negotiated");
		b[0] = 3;
		ok(model_bad(all, b, 48, false, NULL) == 1, "row 5: STATUS on inflateq");
		b[0] = 2;
		b[6] = 1;
		ok(model_bad(all, b, 48, false, NULL) == 1, "row 6: reserved set");
		b[6] = 0;
		b[2] = 11;
		ok(model_bad(all, b, 48, false, NULL) == 1, "row 7: page_shift 11");
		b[2] = 12;
		n = rec(b, FB_REC_BITMAP, 12, ~0ull - 10, 8);
		ok(model_bad(all, b, n + 8, false, NULL) == 1, "row 9: bitmap past 2^64");
		n = rec(b, FB_REC_BITMAP, 30, (1ull << 34) - 64, 8);
		memset(b + 32, 0, 8);
		ok(model_bad(all, b, n + 8, false, NULL) == 1, "row 9: a bitmap ending exactly at 2^64 does not fit 64 bits");
		n = rec(b, FB_REC_BITMAP, 12, 0, 12);
		ok(model_bad(all, b, n + 12, false, NULL) == 1, "row 8: bitmap len 12");
		n = rec(b, FB_REC_RANGES, 12, 0, 48);
		((struct fb_range *)(b + 32))[0] = (struct fb_range){ 0x300, 0 };
		((struct fb_range *)(b + 32))[1] = (struct fb_range){ ~0ull - 1, 5 };
		((struct fb_range *)(b + 32))[2] = (struct fb_range){ 0x1ffff, 3 };
		ok(model_bad(all, b, n + 48, false, &named) == 3 && named == 1,
		   "rows 10, 11, 12: zero count, overflow, clipped (1 page of 3 in RAM)");
		n = rec(b, FB_REC_BITMAP, 12, 0x200, 8);
		*(u64 *)(b + 32) = 0;
		ok(model_bad(all, b, n + 8, false, &named) == 0 && named == 0, "empty bitmap names nothing, valid");
		n = rec(b, FB_REC_RANGES, 12, 0, 0);
		n += rec(b + n, 7, 12, 0, 8);
		n += 8;
		n += rec(b + n, FB_REC_RANGES, 12, 0, 16);
		((struct fb_range *)(b + n))->start_pfn = 0x400;
		((struct fb_range *)(b + n))->count = 1;
		ok(model_bad(all, b, n + 16, false, &named) == 1 && named == 1,
		   "a rejected record is skipped and the next one is processed");
	}

	/* host requests */
	{
		struct fb_host_req r = { FB_CMD_DROP_CACHE, 0, 0, 7, 3 };
		static u8 out[64];
		struct fb_hdr *h = (struct fb_hdr *)out;
		u64 n = fb_answer_host_req(&r, sizeof(r), FB_REC_BITMAP, out, sizeof(out));

		ok(n == 40 && h->type == FB_REC_STATUS && h->flags == FB_FLAG_DONE && h->req_id == 7 && h->len == 8 &&
		   *(u64 *)(out + 32) == 0, "DROP_CACHE: one STATUS record, DONE, value 0");
		r.cmd = FB_CMD_FREE_PAGES;
		n = fb_answer_host_req(&r, sizeof(r), FB_REC_RANGES, out, sizeof(out));
		ok(n == 32 && h->type == FB_REC_RANGES && h->flags == FB_FLAG_DONE && h->len == 0,
		   "FREE_PAGES: one empty DONE record");
		r.cmd = 9;
		n = fb_answer_host_req(&r, sizeof(r), FB_REC_RANGES, out, sizeof(out));
		ok(n == 40 && h->type == FB_REC_STATUS && *(u64 *)(out + 32) == ~0ull, "unknown cmd: STATUS ~0 (FB-D12)");
		r.cmd = FB_CMD_DROP_CACHE;
		r.reserved1 = 1;
		n = fb_answer_host_req(&r, sizeof(r), FB_REC_RANGES, out, sizeof(out));
		ok(n == 40 && *(u64 *)(out + 32) == ~0ull, "reserved set: STATUS ~0 (FB-D12)");
		r.id = 0;
		ok(fb_answer_host_req(&r, sizeof(r), FB_REC_RANGES, out, sizeof(out)) == 0, "id 0: no answer");
		r = (struct fb_host_req){ FB_CMD_CANCEL, 0, 0, 5, 4 };
		ok(fb_answer_host_req(&r, sizeof(r), FB_REC_RANGES, out, sizeof(out)) == 0, "CANCEL: no answer of its own");
	}
	return done_testing();
}
