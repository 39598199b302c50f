/*
 * Record parser, see fb-parse.h and docs/protocol.md (FB-V12 table).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "fb-parse.h"

/* Byte stream over the segments. */
struct cur {
    const struct fb_seg *segs;
    size_t nsegs, idx, off;     /* position: segs[idx].base + off */
    uint64_t pos;               /* bytes consumed so far */
};

static void cur_norm(struct cur *c)
{
    while (c->idx < c->nsegs && c->off >= c->segs[c->idx].len) {
        c->off = 0;
        c->idx++;
    }
}

/* Copy n bytes; the caller has checked they exist. */
static void cur_read(struct cur *c, uint8_t *dst, size_t n)
{
    while (n) {
        size_t chunk;

        cur_norm(c);
        chunk = c->segs[c->idx].len - c->off;
        if (chunk > n) {
            chunk = n;
        }
        memcpy(dst, c->segs[c->idx].base + c->off, chunk);
        dst += chunk;
        n -= chunk;
        c->off += chunk;
        c->pos += chunk;
    }
}

static void cur_skip(struct cur *c, uint64_t n)
{
    while (n) {
        uint64_t chunk;

        cur_norm(c);
        chunk = c->segs[c->idx].len - c->off;
        if (chunk > n) {
            chunk = n;
        }
        c->off += chunk;
        c->pos += chunk;
        n -= chunk;
    }
}

static inline int ctz64(uint64_t v)
{
    return __builtin_ctzll(v);
}

struct ctx {
    const struct fb_parse_ops *ops;
    void *opaque;
    struct fb_parse_result *res;
};

static void bad(struct ctx *x, enum fb_bad reason, uint64_t offset)
{
    x->res->bad++;
    if (x->ops->bad) {
        x->ops->bad(x->opaque, reason, offset);
    }
}

/* Emit pages [pfn, pfn + n); the record checks guarantee no overflow. */
static void emit(struct ctx *x, uint64_t pfn, uint64_t n, unsigned shift,
                 uint64_t unit)
{
    x->ops->run(x->opaque, pfn << shift, n << shift, unit);
}

static void parse_bitmap(struct ctx *x, struct cur *c, const struct fb_rec *r)
{
    uint64_t words = r->len / 8, w, base = r->start_pfn;
    uint64_t run_start = 0, run_len = 0;    /* open run, in pages */
    uint64_t unit = x->res->units++;
    uint8_t buf[8];

    for (w = 0; w < words; w++, base += 64) {
        uint64_t v;
        int bit = 0;

        cur_read(c, buf, 8);
        v = fb_le64(buf);
        if (v == 0) {
            continue;
        }
        while (bit < 64) {
            uint64_t rest = v >> bit;
            int s, ones;

            if (rest == 0) {
                break;
            }
            s = bit + ctz64(rest);
            rest = ~(v >> s);
            ones = rest ? ctz64(rest) : 64 - s;
            if (s + ones > 64) {
                ones = 64 - s;
            }
            if (run_len && run_start + run_len == base + s) {
                run_len += ones;            /* continues from last word */
            } else {
                if (run_len) {
                    emit(x, run_start, run_len, r->page_shift, unit);
                }
                run_start = base + s;
                run_len = ones;
            }
            bit = s + ones;
        }
    }
    if (run_len) {
        emit(x, run_start, run_len, r->page_shift, unit);
    }
}

static void parse_ranges(struct ctx *x, struct cur *c, const struct fb_rec *r)
{
    uint64_t n = r->len / FB_RANGE_SIZE, i;
    uint64_t limit = UINT64_MAX >> r->page_shift;   /* max end pfn */
    uint8_t buf[FB_RANGE_SIZE];

    for (i = 0; i < n; i++) {
        uint64_t off = c->pos, start, count;

        cur_read(c, buf, FB_RANGE_SIZE);
        start = fb_le64(buf);
        count = fb_le64(buf + 8);
        if (count == 0) {
            bad(x, FB_BAD_ZERO_COUNT, off);
            continue;
        }
        if (start > limit || count > limit - start) {
            bad(x, FB_BAD_RANGE_OVERFLOW, off);
            continue;
        }
        emit(x, start, count, r->page_shift, x->res->units++);
    }
}

/* Header checks, rows 5-9 of the table; returns FB_BAD_NONE if valid. */
static enum fb_bad check_hdr(const struct fb_parse_cfg *cfg,
                             const struct fb_rec *r, uint16_t reserved)
{
    if (r->type >= 16 || !(cfg->allowed_types & (1u << r->type)) ||
        (r->type == FB_REC_STATUS && !cfg->response_queue)) {
        return FB_BAD_TYPE;
    }
    if (reserved ||
        (!cfg->response_queue && (r->flags || r->req_id)) ||
        (cfg->response_queue && (r->flags & ~FB_FLAG_DONE)) ||
        (r->type != FB_REC_BITMAP && r->start_pfn)) {
        return FB_BAD_RESERVED;
    }
    if (r->page_shift < FB_PAGE_SHIFT_MIN || r->page_shift > FB_PAGE_SHIFT_MAX) {
        return FB_BAD_SHIFT;
    }
    switch (r->type) {
    case FB_REC_BITMAP:
        if (r->len % 8) {
            return FB_BAD_ALIGN;
        }
        if (r->len > (UINT64_MAX >> 3) ||
            r->start_pfn > (UINT64_MAX >> r->page_shift) ||
            r->len * 8 > (UINT64_MAX >> r->page_shift) - r->start_pfn) {
            return FB_BAD_OVERFLOW;
        }
        break;
    case FB_REC_RANGES:
        if (r->len % FB_RANGE_SIZE) {
            return FB_BAD_ALIGN;
        }
        break;
    case FB_REC_STATUS:
        if (r->len != FB_STATUS_SIZE) {
            return FB_BAD_ALIGN;
        }
        break;
    }
    return FB_BAD_NONE;
}

void fb_parse(const struct fb_seg *segs, size_t nsegs,
              const struct fb_parse_cfg *cfg,
              const struct fb_parse_ops *ops, void *opaque,
              struct fb_parse_result *res)
{
    struct ctx x = { ops, opaque, res };
    struct cur c = { segs, nsegs, 0, 0, 0 };
    uint64_t total = 0;
    size_t i;

    memset(res, 0, sizeof(*res));
    for (i = 0; i < nsegs; i++) {
        total += segs[i].len;
    }
    if (cfg->has_writable) {
        bad(&x, FB_BAD_DIRECTION, 0);
        return;
    }
    if (total == 0) {
        bad(&x, FB_BAD_EMPTY, 0);
        return;
    }

    while (c.pos < total) {
        uint8_t h[FB_HDR_SIZE];
        struct fb_rec r;
        uint64_t at = c.pos;
        enum fb_bad why;

        if (total - c.pos < FB_HDR_SIZE) {
            bad(&x, FB_BAD_TRUNCATED, at);
            return;
        }
        cur_read(&c, h, FB_HDR_SIZE);
        res->records++;
        r.type = fb_le16(h + FB_HDR_TYPE);
        r.page_shift = fb_le16(h + FB_HDR_PAGE_SHIFT);
        r.flags = fb_le16(h + FB_HDR_FLAGS);
        r.req_id = fb_le64(h + FB_HDR_REQ_ID);
        r.start_pfn = fb_le64(h + FB_HDR_START_PFN);
        r.len = fb_le64(h + FB_HDR_LEN);
        r.status = 0;

        if (r.len > total - c.pos) {
            bad(&x, FB_BAD_LENGTH, at);
            return;
        }
        why = check_hdr(cfg, &r, fb_le16(h + FB_HDR_RESERVED));
        if (why != FB_BAD_NONE) {
            bad(&x, why, at);
            cur_skip(&c, r.len);
            continue;
        }
        switch (r.type) {
        case FB_REC_BITMAP:
            if (ops->record) {
                ops->record(opaque, &r);
            }
            parse_bitmap(&x, &c, &r);
            break;
        case FB_REC_RANGES:
            if (ops->record) {
                ops->record(opaque, &r);
            }
            parse_ranges(&x, &c, &r);
            break;
        case FB_REC_STATUS: {
            uint8_t v[FB_STATUS_SIZE];

            cur_read(&c, v, sizeof(v));
            r.status = fb_le64(v);
            if (ops->record) {
                ops->record(opaque, &r);
            }
            break;
        }
        }
    }
}

const char *fb_bad_name(enum fb_bad reason)
{
    static const char *const names[FB_BAD__MAX] = {
        [FB_BAD_NONE] = "none",
        [FB_BAD_DIRECTION] = "wrong-direction",
        [FB_BAD_EMPTY] = "empty-buffer",
        [FB_BAD_TRUNCATED] = "truncated-header",
        [FB_BAD_LENGTH] = "length-past-buffer",
        [FB_BAD_TYPE] = "bad-type",
        [FB_BAD_RESERVED] = "reserved-set",
        [FB_BAD_SHIFT] = "bad-page-shift",
        [FB_BAD_ALIGN] = "bad-length",
        [FB_BAD_OVERFLOW] = "bitmap-overflow",
        [FB_BAD_ZERO_COUNT] = "zero-count",
        [FB_BAD_RANGE_OVERFLOW] = "range-overflow",
        [FB_BAD_OUT_OF_RAM] = "outside-ram",
    };

    if ((unsigned)reason >= FB_BAD__MAX) {
        return "unknown";
    }
    return names[reason];
}
