/*
 * Host unit tests for qemu-device/logic (record parsing, runs, granules).
 * Each case cites the rule of docs/protocol.md it checks. Prints TAP.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include "tap.h"
#include "fb-ref.h"

#define BITMAP_ONLY (1u << FB_REC_BITMAP)
#define RANGES_ONLY (1u << FB_REC_RANGES)
#define BOTH (BITMAP_ONLY | RANGES_ONLY)

/* Collected output of one parse: raw runs and bad reasons. */
#define MAXR 256
struct out {
    uint64_t gpa[MAXR], len[MAXR], unit[MAXR];
    int n;
    enum fb_bad why[MAXR];
    uint64_t where[MAXR];
    int nbad;
    struct fb_rec recs[8];
    int nrec;
};

static void o_run(void *op, uint64_t gpa, uint64_t len, uint64_t unit)
{
    struct out *o = op;

    if (o->n < MAXR) {
        o->gpa[o->n] = gpa;
        o->len[o->n] = len;
        o->unit[o->n] = unit;
    }
    o->n++;
}

static void o_bad(void *op, enum fb_bad why, uint64_t off)
{
    struct out *o = op;

    if (o->nbad < MAXR) {
        o->why[o->nbad] = why;
        o->where[o->nbad] = off;
    }
    o->nbad++;
}

static void o_rec(void *op, const struct fb_rec *r)
{
    struct out *o = op;

    if (o->nrec < 8) {
        o->recs[o->nrec] = *r;
    }
    o->nrec++;
}

static const struct fb_parse_ops o_ops = { o_run, o_bad, o_rec };

static struct fb_parse_result parse_flat(struct out *o, const struct fbuf *f,
                                         unsigned allowed, int resp)
{
    struct fb_seg seg = { f->b, f->len };
    struct fb_parse_cfg cfg = { allowed, resp, 0 };
    struct fb_parse_result res;

    memset(o, 0, sizeof(*o));
    fb_parse(&seg, 1, &cfg, &o_ops, o, &res);
    return res;
}

static int run_is(const struct out *o, int i, uint64_t gpa, uint64_t len)
{
    return i < o->n && o->gpa[i] == gpa && o->len[i] == len;
}

static void test_le(void)
{
    uint8_t b[8];

    fb_put_le64(b, 0x0102030405060708ull);
    ok(b[0] == 8 && b[7] == 1 && fb_le64(b) == 0x0102030405060708ull,
       "le64 round trip is little-endian");
    fb_put_le16(b, 0xbeef);
    ok(b[0] == 0xef && fb_le16(b) == 0xbeef, "le16 round trip is little-endian");
}

static void test_bitmap(void)
{
    static struct fbuf f;
    struct out o;
    struct fb_parse_result r;

    /* bits 0,1,2 and 5 of page 100.. in 4 KiB pages */
    f.len = 0;
    fbuf_hdr(&f, FB_REC_BITMAP, 12, 0, 0, 0, 100, 8);
    fbuf_u64(&f, 0x27);
    r = parse_flat(&o, &f, BITMAP_ONLY, 0);
    ok(o.n == 2 && run_is(&o, 0, 100 << 12, 3 << 12) &&
       run_is(&o, 1, 105 << 12, 1 << 12) && r.bad == 0 && r.records == 1,
       "BITMAP: set bits become runs of pages start_pfn+i");

    /* a run crossing the le64 word boundary stays one run */
    f.len = 0;
    fbuf_hdr(&f, FB_REC_BITMAP, 12, 0, 0, 0, 0, 16);
    fbuf_u64(&f, 0xf000000000000000ull);
    fbuf_u64(&f, 0x7);
    parse_flat(&o, &f, BITMAP_ONLY, 0);
    ok(o.n == 1 && run_is(&o, 0, 60ull << 12, 7ull << 12),
       "BITMAP: run across a word boundary is one run (bits 60..66)");

    f.len = 0;
    fbuf_hdr(&f, FB_REC_BITMAP, 12, 0, 0, 0, 64, 16);
    fbuf_u64(&f, UINT64_MAX);
    fbuf_u64(&f, UINT64_MAX);
    parse_flat(&o, &f, BITMAP_ONLY, 0);
    ok(o.n == 1 && run_is(&o, 0, 64ull << 12, 128ull << 12),
       "BITMAP: two full words give one 128-page run");

    /* page_shift honoured: 2 MiB pages */
    f.len = 0;
    fbuf_hdr(&f, FB_REC_BITMAP, 21, 0, 0, 0, 3, 8);
    fbuf_u64(&f, 0x5);
    parse_flat(&o, &f, BITMAP_ONLY, 0);
    ok(o.n == 2 && run_is(&o, 0, 3ull << 21, 1ull << 21) &&
       run_is(&o, 1, 5ull << 21, 1ull << 21),
       "BITMAP: page_shift 21 names 2 MiB pages (FB-D6)");

    f.len = 0;
    fbuf_hdr(&f, FB_REC_BITMAP, 12, 0, 0, 0, 7, 0);
    fbuf_hdr(&f, FB_REC_BITMAP, 12, 0, 0, 0, 7, 8);
    fbuf_u64(&f, 0);
    r = parse_flat(&o, &f, BITMAP_ONLY, 0);
    ok(o.n == 0 && r.bad == 0 && r.records == 2,
       "BITMAP: empty and all-zero bitmaps are valid and name nothing");
}

static void test_ranges(void)
{
    static struct fbuf f;
    struct out o;
    struct fb_parse_result r;

    f.len = 0;
    fbuf_hdr(&f, FB_REC_RANGES, 12, 0, 0, 0, 0, 32);
    fbuf_u64(&f, 1000);
    fbuf_u64(&f, 24);
    fbuf_u64(&f, 5);
    fbuf_u64(&f, 1);
    r = parse_flat(&o, &f, RANGES_ONLY, 0);
    ok(o.n == 2 && run_is(&o, 0, 1000ull << 12, 24ull << 12) &&
       run_is(&o, 1, 5ull << 12, 1ull << 12) && o.unit[0] != o.unit[1] &&
       r.bad == 0, "RANGES: each entry is one run, its own unit");

    f.len = 0;
    fbuf_hdr(&f, FB_REC_RANGES, 30, 0, 0, 0, 0, 16);
    fbuf_u64(&f, 2);
    fbuf_u64(&f, 1);
    parse_flat(&o, &f, RANGES_ONLY, 0);
    ok(o.n == 1 && run_is(&o, 0, 2ull << 30, 1ull << 30),
       "RANGES: page_shift 30 names 1 GiB pages");

    f.len = 0;
    fbuf_hdr(&f, FB_REC_RANGES, 12, 0, 0, 0, 0, 16);
    fbuf_u64(&f, 10);
    fbuf_u64(&f, 2);
    fbuf_hdr(&f, FB_REC_BITMAP, 12, 0, 0, 0, 12, 8);
    fbuf_u64(&f, 1);
    r = parse_flat(&o, &f, BOTH, 0);
    ok(o.n == 2 && run_is(&o, 1, 12ull << 12, 1ull << 12) && r.bad == 0,
       "both formats mix in one buffer when both are negotiated");
    r = parse_flat(&o, &f, RANGES_ONLY, 0);
    ok(o.n == 1 && r.bad == 1 && o.why[0] == FB_BAD_TYPE,
       "BITMAP record without PAGE_BITMAP is rejected, RANGES still done (row 5)");
}

/* One malformed record between two good ones: rejected, neighbours kept. */
static void bad_between(const char *what, enum fb_bad want, unsigned type,
                        unsigned shift, unsigned flags, unsigned resv,
                        uint64_t req, uint64_t start, uint64_t len,
                        unsigned allowed)
{
    static struct fbuf f;
    struct out o;
    struct fb_parse_result r;
    uint64_t i;

    f.len = 0;
    fbuf_hdr(&f, FB_REC_BITMAP, 12, 0, 0, 0, 0, 8);
    fbuf_u64(&f, 1);
    fbuf_hdr(&f, type, shift, flags, resv, req, start, len);
    for (i = 0; i < len / 8; i++) {
        fbuf_u64(&f, UINT64_MAX);
    }
    for (i = 0; i < len % 8; i++) {
        f.b[f.len++] = 0xff;
    }
    fbuf_hdr(&f, FB_REC_BITMAP, 12, 0, 0, 0, 64, 8);
    fbuf_u64(&f, 1);
    r = parse_flat(&o, &f, allowed, 0);
    if (!ok(r.bad == 1 && o.nbad == 1 && o.why[0] == want &&
            o.where[0] == 40 && o.n == 2 && run_is(&o, 0, 0, 4096) &&
            run_is(&o, 1, 64 << 12, 4096) && r.records == 3,
            "%s: rejected as %s at its offset, next record processed (row %d)",
            what, fb_bad_name(want), want) && o.nbad) {
        diag("got %d bad (%s), %d runs", o.nbad, fb_bad_name(o.why[0]), o.n);
    }
}

static void test_bad_headers(void)
{
    bad_between("unknown type 7", FB_BAD_TYPE, 7, 12, 0, 0, 0, 0, 8, BOTH);
    bad_between("type 0", FB_BAD_TYPE, 0, 12, 0, 0, 0, 0, 0, BOTH);
    bad_between("STATUS on inflateq", FB_BAD_TYPE, FB_REC_STATUS, 12, 0, 0, 0,
                0, 8, BOTH | (1u << FB_REC_STATUS));
    bad_between("reserved set", FB_BAD_RESERVED, FB_REC_BITMAP, 12, 0, 1, 0,
                0, 8, BOTH);
    bad_between("flags set on inflateq", FB_BAD_RESERVED, FB_REC_BITMAP, 12,
                FB_FLAG_DONE, 0, 0, 0, 8, BOTH);
    bad_between("req_id set on inflateq", FB_BAD_RESERVED, FB_REC_BITMAP, 12,
                0, 0, 9, 0, 8, BOTH);
    bad_between("RANGES with start_pfn", FB_BAD_RESERVED, FB_REC_RANGES, 12, 0,
                0, 0, 5, 16, BOTH);
    bad_between("page_shift 11", FB_BAD_SHIFT, FB_REC_BITMAP, 11, 0, 0, 0, 0,
                8, BOTH);
    bad_between("page_shift 31", FB_BAD_SHIFT, FB_REC_RANGES, 31, 0, 0, 0, 0,
                16, BOTH);
    bad_between("page_shift 65535", FB_BAD_SHIFT, FB_REC_BITMAP, 0xffff, 0, 0,
                0, 0, 8, BOTH);
    bad_between("BITMAP len 12", FB_BAD_ALIGN, FB_REC_BITMAP, 12, 0, 0, 0, 0,
                12, BOTH);
    bad_between("RANGES len 24", FB_BAD_ALIGN, FB_REC_RANGES, 12, 0, 0, 0, 0,
                24, BOTH);
    bad_between("BITMAP past 2^64", FB_BAD_OVERFLOW, FB_REC_BITMAP, 12, 0, 0, 0,
                (UINT64_MAX >> 12) - 10, 8, BOTH);
    bad_between("BITMAP start_pfn 2^63", FB_BAD_OVERFLOW, FB_REC_BITMAP, 30, 0,
                0, 0, 1ull << 63, 8, BOTH);
    /* FB-D6: the last page's end must fit in 64 bits, so ending at 2^64 is out */
    bad_between("BITMAP ending exactly at 2^64", FB_BAD_OVERFLOW, FB_REC_BITMAP,
                12, 0, 0, 0, (1ull << 52) - 64, 8, BOTH);
}

static void test_bad_entries(void)
{
    static struct fbuf f;
    struct out o;
    struct fb_parse_result r;

    f.len = 0;
    fbuf_hdr(&f, FB_REC_RANGES, 12, 0, 0, 0, 0, 64);
    fbuf_u64(&f, 1);
    fbuf_u64(&f, 1);
    fbuf_u64(&f, 50);
    fbuf_u64(&f, 0);                                /* count 0 */
    fbuf_u64(&f, UINT64_MAX - 3);
    fbuf_u64(&f, 10);                               /* wraps */
    fbuf_u64(&f, 3);
    fbuf_u64(&f, 2);
    r = parse_flat(&o, &f, RANGES_ONLY, 0);
    ok(o.n == 2 && run_is(&o, 0, 1 << 12, 1 << 12) &&
       run_is(&o, 1, 3 << 12, 2 << 12) && r.bad == 2 && o.nbad == 2 &&
       o.why[0] == FB_BAD_ZERO_COUNT && o.where[0] == 48 &&
       o.why[1] == FB_BAD_RANGE_OVERFLOW && o.where[1] == 64,
       "RANGES: count 0 and start+count overflow reject only their entry (rows 10, 11)");

    /* the byte address overflows even though the page numbers do not */
    f.len = 0;
    fbuf_hdr(&f, FB_REC_RANGES, 30, 0, 0, 0, 0, 16);
    fbuf_u64(&f, (1ull << 34) - 1);
    fbuf_u64(&f, 1);
    r = parse_flat(&o, &f, RANGES_ONLY, 0);
    ok(o.n == 0 && r.bad == 1 && o.why[0] == FB_BAD_RANGE_OVERFLOW,
       "RANGES: entry whose byte end reaches 2^64 is rejected (row 11)");

    f.len = 0;
    fbuf_hdr(&f, FB_REC_RANGES, 30, 0, 0, 0, 0, 16);
    fbuf_u64(&f, (1ull << 34) - 2);
    fbuf_u64(&f, 1);
    r = parse_flat(&o, &f, RANGES_ONLY, 0);
    ok(o.n == 1 && r.bad == 0 && o.gpa[0] + o.len[0] == (uint64_t)0 - (1ull << 30),
       "RANGES: the last whole page below 2^64 is accepted");
}

static void test_bad_buffers(void)
{
    static struct fbuf f;
    struct out o;
    struct fb_parse_result r;
    struct fb_parse_cfg cfg = { BOTH, 0, 1 };
    struct fb_seg seg;

    f.len = 0;
    fbuf_hdr(&f, FB_REC_BITMAP, 12, 0, 0, 0, 0, 8);
    fbuf_u64(&f, 1);
    fbuf_u64(&f, 0);                                /* 8 stray bytes */
    r = parse_flat(&o, &f, BOTH, 0);
    ok(o.n == 1 && r.bad == 1 && o.why[0] == FB_BAD_TRUNCATED &&
       o.where[0] == 40, "truncated header: earlier records done, rest ignored (row 3)");

    f.len = 0;
    fbuf_hdr(&f, FB_REC_BITMAP, 12, 0, 0, 0, 0, 8);
    fbuf_u64(&f, 1);
    fbuf_hdr(&f, FB_REC_BITMAP, 12, 0, 0, 0, 64, 4096);  /* only 40 follow */
    fbuf_u64(&f, 1);
    fbuf_hdr(&f, FB_REC_BITMAP, 12, 0, 0, 0, 128, 0);
    r = parse_flat(&o, &f, BOTH, 0);
    ok(o.n == 1 && run_is(&o, 0, 0, 4096) && r.bad == 1 &&
       o.why[0] == FB_BAD_LENGTH && r.records == 2,
       "length past the buffer: record rejected, buffer ends there (row 4)");

    f.len = 0;
    fbuf_hdr(&f, FB_REC_BITMAP, 12, 0, 0, 0, 0, UINT64_MAX);
    r = parse_flat(&o, &f, BOTH, 0);
    ok(o.n == 0 && r.bad == 1 && o.why[0] == FB_BAD_LENGTH,
       "len 2^64-1 is a length past the buffer, not a wrap (row 4)");

    f.len = 0;
    r = parse_flat(&o, &f, BOTH, 0);
    memset(&o, 0, sizeof(o));
    fb_parse(NULL, 0, &(struct fb_parse_cfg){ BOTH, 0, 0 }, &o_ops, &o, &r);
    ok(r.bad == 1 && o.why[0] == FB_BAD_EMPTY && o.n == 0,
       "buffer with no readable bytes is one bad record (row 2)");

    f.len = 0;
    fbuf_hdr(&f, FB_REC_BITMAP, 12, 0, 0, 0, 0, 8);
    fbuf_u64(&f, 1);
    seg.base = f.b;
    seg.len = f.len;
    memset(&o, 0, sizeof(o));
    fb_parse(&seg, 1, &cfg, &o_ops, &o, &r);
    ok(r.bad == 1 && o.why[0] == FB_BAD_DIRECTION && o.n == 0 && r.records == 0,
       "buffer with device-writable parts is ignored whole (row 1)");
}

static void test_segments(void)
{
    static struct fbuf f;
    static struct fb_seg segs[4096];
    struct out a, b;
    struct fb_parse_cfg cfg = { BOTH, 0, 0 };
    struct fb_parse_result ra, rb;
    size_t i;
    int same;

    f.len = 0;
    fbuf_hdr(&f, FB_REC_BITMAP, 12, 0, 0, 0, 3, 24);
    fbuf_u64(&f, 0x8000000000000001ull);
    fbuf_u64(&f, 0xff00ff00ff00ff00ull);
    fbuf_u64(&f, 0x1);
    fbuf_hdr(&f, FB_REC_RANGES, 13, 0, 0, 0, 0, 16);
    fbuf_u64(&f, 77);
    fbuf_u64(&f, 3);
    ra = parse_flat(&a, &f, BOTH, 0);
    for (i = 0; i < f.len; i++) {
        segs[i].base = f.b + i;
        segs[i].len = 1;
    }
    memset(&b, 0, sizeof(b));
    fb_parse(segs, f.len, &cfg, &o_ops, &b, &rb);
    same = a.n == b.n && ra.bad == rb.bad && ra.records == rb.records;
    for (i = 0; same && i < (size_t)a.n && i < MAXR; i++) {
        same = a.gpa[i] == b.gpa[i] && a.len[i] == b.len[i];
    }
    ok(same && a.n == 7 && ra.bad == 0,
       "records spanning 1-byte descriptors parse exactly as one flat buffer");
}

static void test_response(void)
{
    static struct fbuf f;
    struct out o;
    struct fb_parse_result r;
    unsigned all = BOTH | (1u << FB_REC_STATUS);

    f.len = 0;
    fbuf_hdr(&f, FB_REC_STATUS, 12, FB_FLAG_DONE, 0, 42, 0, 8);
    fbuf_u64(&f, 12345);
    fbuf_hdr(&f, FB_REC_BITMAP, 12, 0, 0, 43, 0, 8);
    fbuf_u64(&f, 2);
    fbuf_hdr(&f, FB_REC_BITMAP, 12, 2, 0, 43, 0, 8);   /* unknown flag */
    fbuf_u64(&f, 2);
    r = parse_flat(&o, &f, all, 1);
    ok(o.nrec == 2 && o.recs[0].type == FB_REC_STATUS &&
       o.recs[0].status == 12345 && o.recs[0].req_id == 42 &&
       o.recs[0].flags == FB_FLAG_DONE && o.recs[1].req_id == 43 &&
       o.n == 1 && r.bad == 1 && o.why[0] == FB_BAD_RESERVED,
       "host_resp_vq: STATUS value, req_id and DONE decoded; unknown flag rejected");
}

static const struct fb_ram_range ram2[] = {
    { 0x0, 0xa0000 },                   /* low RAM, hole at 640K */
    { 0x100000, 0x100000 },             /* 1M..2M */
    { 0x200000, 0x200000 },             /* 2M..4M: adjacent, other block */
};

struct col {
    uint64_t gpa[64], len[64];
    size_t idx[64];
    int n;
};

static void col_emit(void *op, uint64_t gpa, uint64_t len, size_t idx)
{
    struct col *c = op;

    if (c->n < 64) {
        c->gpa[c->n] = gpa;
        c->len[c->n] = len;
        c->idx[c->n] = idx;
    }
    c->n++;
}

static void test_runs(void)
{
    struct fb_runs s;
    struct col c = {0};
    bool b1, b2, b3;

    ok(fb_ram_ranges_valid(ram2, 3), "RAM list: sorted, adjacent allowed");
    ok(!fb_ram_ranges_valid((struct fb_ram_range[]){ { 0, 0x2000 }, { 0x1000, 0x1000 } }, 2) &&
       !fb_ram_ranges_valid((struct fb_ram_range[]){ { 0, 0 } }, 1) &&
       !fb_ram_ranges_valid((struct fb_ram_range[]){ { UINT64_MAX - 10, 100 } }, 1),
       "RAM list: overlap, empty and wrapping ranges refused");

    fb_runs_init(&s, ram2, 3, col_emit, &c);
    fb_runs_add(&s, 0x1000, 0x1000, 0);
    fb_runs_add(&s, 0x2000, 0x3000, 1);         /* adjacent: merged */
    fb_runs_add(&s, 0x9000, 0x1000, 2);         /* gap: new run */
    fb_runs_flush(&s);
    ok(c.n == 2 && c.gpa[0] == 0x1000 && c.len[0] == 0x4000 &&
       c.gpa[1] == 0x9000 && s.runs == 2 && s.bytes == 0x5000,
       "neighbouring pages from different units merge into one run (FB-V8)");

    memset(&c, 0, sizeof(c));
    fb_runs_init(&s, ram2, 3, col_emit, &c);
    b1 = fb_runs_add(&s, 0x9f000, 0x62000, 5);  /* 636K..1M+4K, over the hole */
    fb_runs_flush(&s);
    ok(b1 && c.n == 2 && c.gpa[0] == 0x9f000 && c.len[0] == 0x1000 &&
       c.gpa[1] == 0x100000 && c.len[1] == 0x1000 && s.out_of_ram == 1,
       "a run over a RAM hole is clipped to the RAM on both sides (row 12)");

    memset(&c, 0, sizeof(c));
    fb_runs_init(&s, ram2, 3, col_emit, &c);
    fb_runs_add(&s, 0x1ff000, 0x2000, 0);       /* crosses block boundary */
    fb_runs_flush(&s);
    ok(c.n == 2 && c.idx[0] == 1 && c.idx[1] == 2 && c.len[0] == 0x1000,
       "runs split where RAM blocks end, even when adjacent in gpa");

    memset(&c, 0, sizeof(c));
    fb_runs_init(&s, ram2, 3, col_emit, &c);
    b1 = fb_runs_add(&s, 0xa0000, 0x1000, 7);
    b2 = fb_runs_add(&s, 0x400000, 0x1000, 7);  /* same unit again */
    b3 = fb_runs_add(&s, 0x10000000000ull, 0x1000, 8);
    fb_runs_flush(&s);
    ok(c.n == 0 && b1 && !b2 && b3 && s.out_of_ram == 2,
       "pages wholly outside RAM: nothing emitted, counted once per unit");

    memset(&c, 0, sizeof(c));
    fb_runs_init(&s, ram2, 3, col_emit, &c);
    fb_runs_add(&s, 0, UINT64_MAX - 4095, 0);
    fb_runs_flush(&s);
    ok(c.n == 3 && c.len[0] == 0xa0000 && c.len[1] == 0x100000 &&
       c.len[2] == 0x200000 && s.out_of_ram == 1,
       "a run over all of 2^64 is cut to the RAM it covers, one run per block");
}

static void test_granule(void)
{
    struct fb_span h, m, t;
    uint64_t M2 = 2 << 20;

    fb_split_granule(0, 4 * M2, M2, &h, &m, &t);
    ok(h.len == 0 && m.off == 0 && m.len == 4 * M2 && t.len == 0,
       "granule split: aligned span is all whole host pages");
    fb_split_granule(M2 - 4096, 2 * M2 + 8192, M2, &h, &m, &t);
    ok(h.off == M2 - 4096 && h.len == 4096 && m.off == M2 && m.len == 2 * M2 &&
       t.off == 3 * M2 && t.len == 4096,
       "granule split: partial head and tail around whole pages");
    fb_split_granule(4096, 8192, M2, &h, &m, &t);
    ok(h.len == 8192 && m.len == 0 && t.len == 0,
       "granule split: span inside one host page is all head");
    fb_split_granule(M2 - 4096, 8192, M2, &h, &m, &t);
    ok(h.len == 4096 && m.len == 0 && t.off == M2 && t.len == 4096,
       "granule split: span across one boundary is head + tail");
    fb_split_granule(0, 4096, M2, &h, &m, &t);
    ok(h.len == 0 && m.len == 0 && t.off == 0 && t.len == 4096,
       "granule split: aligned start, short span is tail only");
}

static void test_partial(void)
{
    struct fb_partial p;
    uint64_t base = 0, i, gran = 2 << 20;
    int early = 0, done;

    fb_partial_init(&p);
    for (i = 0; i < 511; i++) {
        early |= fb_partial_add(&p, 4 * gran + i * 4096, 4096, gran, &base);
    }
    done = fb_partial_add(&p, 4 * gran + 511 * 4096, 4096, gran, &base);
    ok(!early && done && base == 4 * gran && p.bits == NULL,
       "partial host page: discardable only when all 512 pieces named (FB-V9)");

    fb_partial_add(&p, 0, gran - 4096, gran, &base);
    done = fb_partial_add(&p, gran + gran - 4096, 4096, gran, &base);
    ok(!done && p.base == gran,
       "partial host page: a different host page forgets the old one");
    done = fb_partial_add(&p, gran, gran - 4096, gran, &base);
    ok(done && base == gran, "partial host page: pieces in any order complete it");
    ok(!fb_partial_add(&p, gran - 4096, 8192, gran, &base) && p.bits == NULL,
       "partial host page: a span crossing host pages is refused");
    fb_partial_free(&p);
}

/* xorshift, fixed seed: reproducible */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random valid-ish and broken records against the naive reference. */
static void test_differential(void)
{
    static const struct fb_ram_range ram[] = {
        { 0, 0xa0000 }, { 0x100000, 0x1f00000 }, { 0x2000000, 0x1000000 },
        { 0x3800000, 0x1ff000 }, { 0x3a00000, 0x200000 },  /* 4 KiB hole */
        { 0x3c00000, 0x100000 },                            /* adjacent */
    };
    static struct fbuf f;
    static struct ref ref;
    static struct real real;
    static struct fb_seg segs[64];
    int iter, mismatches = 0, first_bad = -1;

    for (iter = 0; iter < 3000; iter++) {
        int nrec = 1 + rnd() % 5, k;
        size_t nseg = 0, pos = 0;
        struct fb_parse_cfg cfg = { BOTH, 0, 0 };

        f.len = 0;
        for (k = 0; k < nrec; k++) {
            unsigned type = (rnd() % 8) ? 1 + rnd() % 2 : rnd() % 5;
            unsigned shift = (rnd() % 8) ? 12 + rnd() % 10 : rnd() % 40;
            uint64_t words = rnd() % 4, j;

            if (type == FB_REC_RANGES) {
                fbuf_hdr(&f, type, shift, 0, (rnd() % 16) == 0, 0,
                         (rnd() % 16) == 0, words * 16 + ((rnd() % 16) == 0) * 8);
                for (j = 0; j < 2 * words; j++) {
                    /* start pages mostly inside the 64 MiB window */
                    uint64_t win = shift < 26 ? 1ull << (26 - shift) : 4;

                    fbuf_u64(&f, (j % 2) ? rnd() % 64 : rnd() % win);
                }
            } else {
                uint64_t start = (rnd() % 16) == 0 ? UINT64_MAX - rnd() % 1000
                                                   : rnd() % 20000;
                fbuf_hdr(&f, type, shift, (rnd() % 20) == 0, 0, 0,
                         start >> (shift > 12 && shift < 40 ? shift - 12 : 0),
                         words * 8);
                for (j = 0; j < words; j++) {
                    fbuf_u64(&f, rnd() & rnd());
                }
            }
        }
        if (rnd() % 10 == 0 && f.len > 4) {
            f.len -= 1 + rnd() % 4;               /* truncate */
        }
        /* cut into random segments */
        while (pos < f.len && nseg < 63) {
            size_t n = 1 + rnd() % 48;

            if (n > f.len - pos) {
                n = f.len - pos;
            }
            segs[nseg].base = f.b + pos;
            segs[nseg].len = n;
            nseg++;
            pos += n;
        }
        if (pos < f.len) {
            segs[nseg].base = f.b + pos;
            segs[nseg].len = f.len - pos;
            nseg++;
        }
        ref_decode(&ref, f.b, f.len, BOTH, 0, 0, ram, 6);
        real_decode(&real, segs, nseg, &cfg, ram, 6);
        if (memcmp(ref.named, real.named, sizeof(ref.named)) ||
            ref.bad != real.bad || ref.records != real.records ||
            real.wrong_range || real.unaligned || real.outside_window) {
            mismatches++;
            if (first_bad < 0) {
                first_bad = iter;
                diag("iter %d: ref bad %llu real bad %llu, records %llu/%llu",
                     iter, (unsigned long long)ref.bad,
                     (unsigned long long)real.bad,
                     (unsigned long long)ref.records,
                     (unsigned long long)real.records);
            }
        }
    }
    ok(mismatches == 0,
       "3000 random buffers: same pages, bad counts and records as the naive reference (%d mismatches)",
       mismatches);
}

int main(void)
{
    test_le();
    test_bitmap();
    test_ranges();
    test_bad_headers();
    test_bad_entries();
    test_bad_buffers();
    test_segments();
    test_response();
    test_runs();
    test_granule();
    test_partial();
    test_differential();
    return tap_done();
}
