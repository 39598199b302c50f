/*
 * Test helpers shared by the unit tests and the fuzz target: a record
 * builder, and an independent, deliberately naive reference decoder
 * (128-bit arithmetic, page by page) to compare fb_parse + fb_runs with.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef FB_REF_H
#define FB_REF_H

#include <stdint.h>
#include <string.h>
#include "fb-parse.h"
#include "fb-runs.h"

typedef unsigned __int128 u128;

/* ---- building buffers ---- */
struct fbuf {
    uint8_t b[1 << 16];
    size_t len;
};

static void fbuf_hdr(struct fbuf *f, unsigned type, unsigned shift,
                     unsigned flags, unsigned reserved, uint64_t req_id,
                     uint64_t start_pfn, uint64_t len)
{
    uint8_t *p = f->b + f->len;

    fb_put_le16(p + FB_HDR_TYPE, type);
    fb_put_le16(p + FB_HDR_PAGE_SHIFT, shift);
    fb_put_le16(p + FB_HDR_FLAGS, flags);
    fb_put_le16(p + FB_HDR_RESERVED, reserved);
    fb_put_le64(p + FB_HDR_REQ_ID, req_id);
    fb_put_le64(p + FB_HDR_START_PFN, start_pfn);
    fb_put_le64(p + FB_HDR_LEN, len);
    f->len += FB_HDR_SIZE;
}

static void fbuf_u64(struct fbuf *f, uint64_t v)
{
    fb_put_le64(f->b + f->len, v);
    f->len += 8;
}

/* ---- naive reference over a window of 4 KiB pages ---- */
#define REF_WIN_PAGES 16384u             /* 64 MiB */

struct ref {
    uint8_t named[REF_WIN_PAGES];       /* 4 KiB page named by a valid unit */
    uint64_t bad;
    uint64_t records;
};

/* 128-bit: how much of [s, e) is guest RAM */
static u128 ref_covered(const struct fb_ram_range *ram, size_t n, u128 s, u128 e)
{
    u128 c = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        u128 rs = ram[i].gpa, re = (u128)ram[i].gpa + ram[i].len;
        u128 a = s > rs ? s : rs, b = e < re ? e : re;

        if (b > a) {
            c += b - a;
        }
    }
    return c;
}

static void ref_mark(struct ref *r, const struct fb_ram_range *ram, size_t n,
                     u128 s, u128 e)
{
    u128 a;

    for (a = s >> 12; a < REF_WIN_PAGES && (a << 12) < e; a++) {
        if (ref_covered(ram, n, a << 12, (a + 1) << 12) == 4096) {
            r->named[(size_t)a] = 1;
        }
    }
}

/* Decode a flat buffer; allowed/resp as in fb_parse_cfg. */
static void ref_decode(struct ref *r, const uint8_t *b, size_t len,
                       unsigned allowed, int resp, int writable,
                       const struct fb_ram_range *ram, size_t nram)
{
    size_t pos = 0;

    memset(r, 0, sizeof(*r));
    if (writable || len == 0) {
        r->bad = 1;
        return;
    }
    while (pos < len) {
        unsigned type, shift, flags, resv;
        uint64_t req, start, plen;
        size_t body;

        if (len - pos < 32) {
            r->bad++;
            return;
        }
        r->records++;
        type = fb_le16(b + pos);
        shift = fb_le16(b + pos + 2);
        flags = fb_le16(b + pos + 4);
        resv = fb_le16(b + pos + 6);
        req = fb_le64(b + pos + 8);
        start = fb_le64(b + pos + 16);
        plen = fb_le64(b + pos + 24);
        body = pos + 32;
        if ((u128)plen > (u128)(len - body)) {
            r->bad++;
            return;
        }
        pos = body + (size_t)plen;
        if (type < 1 || type > 3 || !(allowed & (1u << type)) ||
            (type == 3 && !resp)) {
            r->bad++;
            continue;
        }
        if (resv || (!resp && (flags || req)) || (resp && flags > 1) ||
            (type != 1 && start)) {
            r->bad++;
            continue;
        }
        if (shift < 12 || shift > 30) {
            r->bad++;
            continue;
        }
        if ((type == 1 && plen % 8) || (type == 2 && plen % 16) ||
            (type == 3 && plen != 8)) {
            r->bad++;
            continue;
        }
        if (type == 1) {
            uint64_t i;

            if ((u128)start + (u128)plen * 8 > (u128)(UINT64_MAX >> shift)) {
                r->bad++;
                continue;
            }
            {
                int outside = 0;

                for (i = 0; i < plen * 8; i++) {
                    if (b[body + i / 8] & (1u << (i % 8))) {
                        u128 s = ((u128)start + i) << shift;
                        u128 e = s + ((u128)1 << shift);

                        if (ref_covered(ram, nram, s, e) != e - s) {
                            outside = 1;
                        }
                        ref_mark(r, ram, nram, s, e);
                    }
                }
                r->bad += outside;
            }
        } else if (type == 2) {
            uint64_t k;

            for (k = 0; k < plen / 16; k++) {
                uint64_t s0 = fb_le64(b + body + 16 * k);
                uint64_t c0 = fb_le64(b + body + 16 * k + 8);
                u128 s, e;

                if (c0 == 0) {
                    r->bad++;
                    continue;
                }
                if ((u128)s0 + c0 > (u128)(UINT64_MAX >> shift)) {
                    r->bad++;
                    continue;
                }
                s = (u128)s0 << shift;
                e = ((u128)s0 + c0) << shift;
                if (ref_covered(ram, nram, s, e) != e - s) {
                    r->bad++;
                }
                ref_mark(r, ram, nram, s, e);
            }
        }
    }
}

/* ---- running the real pipeline into a page set ---- */
struct real {
    uint8_t named[REF_WIN_PAGES];
    uint64_t bad, records, runs, outside_window, unaligned;
    struct fb_runs runs_state;
    const struct fb_ram_range *ram;
    size_t nram;
    uint64_t wrong_range;       /* emitted run not inside its ram_idx range */
};

static void real_emit(void *opaque, uint64_t gpa, uint64_t len, size_t idx)
{
    struct real *x = opaque;
    uint64_t p;

    if (idx >= x->nram || gpa < x->ram[idx].gpa ||
        gpa + len > x->ram[idx].gpa + x->ram[idx].len) {
        x->wrong_range++;
    }
    if ((gpa | len) & 4095) {
        x->unaligned++;
    }
    for (p = gpa >> 12; p < ((gpa + len + 4095) >> 12); p++) {
        if (p >= REF_WIN_PAGES) {
            x->outside_window++;
            break;
        }
        x->named[p] = 1;
    }
}

static void real_run(void *opaque, uint64_t gpa, uint64_t len, uint64_t unit)
{
    struct real *x = opaque;

    if (fb_runs_add(&x->runs_state, gpa, len, unit)) {
        x->bad++;
    }
}

static void real_decode(struct real *x, const struct fb_seg *segs, size_t n,
                        const struct fb_parse_cfg *cfg,
                        const struct fb_ram_range *ram, size_t nram)
{
    static const struct fb_parse_ops ops = { .run = real_run };
    struct fb_parse_result res;

    memset(x, 0, sizeof(*x));
    x->ram = ram;
    x->nram = nram;
    fb_runs_init(&x->runs_state, ram, nram, real_emit, x);
    fb_parse(segs, n, cfg, &ops, x, &res);
    fb_runs_flush(&x->runs_state);
    x->bad += res.bad;
    x->records = res.records;
    x->runs = x->runs_state.runs;
}

#endif
