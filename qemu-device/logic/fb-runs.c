/*
 * See fb-runs.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdlib.h>
#include <string.h>
#include "fb-runs.h"

bool fb_ram_ranges_valid(const struct fb_ram_range *r, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (r[i].len == 0 || r[i].gpa + r[i].len < r[i].gpa) {
            return false;
        }
        if (i && r[i - 1].gpa + r[i - 1].len > r[i].gpa) {
            return false;
        }
    }
    return true;
}

void fb_runs_init(struct fb_runs *s, const struct fb_ram_range *ram,
                  size_t nram, fb_run_fn emit, void *opaque)
{
    memset(s, 0, sizeof(*s));
    s->ram = ram;
    s->nram = nram;
    s->emit = emit;
    s->opaque = opaque;
}

void fb_runs_flush(struct fb_runs *s)
{
    if (s->have) {
        s->runs++;
        s->bytes += s->len;
        s->have = false;
        s->emit(s->opaque, s->gpa, s->len, s->ram_idx);
    }
}

static void piece(struct fb_runs *s, uint64_t gpa, uint64_t len, size_t idx)
{
    if (s->have && s->ram_idx == idx && s->gpa + s->len == gpa) {
        s->len += len;
        return;
    }
    fb_runs_flush(s);
    s->have = true;
    s->gpa = gpa;
    s->len = len;
    s->ram_idx = idx;
}

/* First range whose end is above gpa. */
static size_t first_range(const struct fb_runs *s, uint64_t gpa)
{
    size_t lo = 0, hi = s->nram;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (s->ram[mid].gpa + s->ram[mid].len <= gpa) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

bool fb_runs_add(struct fb_runs *s, uint64_t gpa, uint64_t len, uint64_t unit)
{
    uint64_t end = gpa + len, at = gpa;
    bool outside = false;
    size_t i;

    if (len == 0 || end < gpa) {
        return false;           /* the parser never does this */
    }
    for (i = first_range(s, gpa); i < s->nram && s->ram[i].gpa < end; i++) {
        uint64_t rs = s->ram[i].gpa, re = rs + s->ram[i].len;
        uint64_t ps = at > rs ? at : rs, pe = end < re ? end : re;

        if (ps > at) {
            outside = true;     /* hole before this range */
        }
        piece(s, ps, pe - ps, i);
        at = pe;
    }
    if (at < end) {
        outside = true;
    }
    if (outside && !(s->bad_unit_seen && s->bad_unit == unit)) {
        s->bad_unit_seen = true;
        s->bad_unit = unit;
        s->out_of_ram++;
        return true;
    }
    return false;
}

void fb_split_granule(uint64_t off, uint64_t len, uint64_t gran,
                      struct fb_span *head, struct fb_span *mid,
                      struct fb_span *tail)
{
    uint64_t mask = gran - 1, end = off + len;
    uint64_t up = (off + mask) & ~mask, down = end & ~mask;

    head->off = off;
    head->len = 0;
    mid->off = off;
    mid->len = 0;
    tail->off = end;
    tail->len = 0;
    if (up < off || up >= end || down <= up) {
        /* no whole granule inside: head is everything up to the first
         * boundary, tail the rest */
        if (up < off || up >= end) {
            head->len = len;
        } else {
            head->len = up - off;
            tail->off = up;
            tail->len = end - up;
        }
        return;
    }
    head->len = up - off;
    mid->off = up;
    mid->len = down - up;
    tail->off = down;
    tail->len = end - down;
}

void fb_partial_init(struct fb_partial *p)
{
    memset(p, 0, sizeof(*p));
}

void fb_partial_free(struct fb_partial *p)
{
    free(p->bits);
    fb_partial_init(p);
}

bool fb_partial_add(struct fb_partial *p, uint64_t off, uint64_t len,
                    uint64_t gran, uint64_t *base)
{
    uint64_t b = off & ~(gran - 1), i, first, n;
    uint64_t words;

    if (gran <= (1u << FB_BASE_SHIFT) || len == 0 ||
        off + len > b + gran || off + len < off) {
        return false;
    }
    if (p->bits && (p->base != b || p->gran != gran)) {
        fb_partial_free(p);     /* a different host page: forget the old */
    }
    if (!p->bits) {
        p->nbits = gran >> FB_BASE_SHIFT;
        words = (p->nbits + 63) / 64;
        p->bits = calloc(words, sizeof(uint64_t));
        if (!p->bits) {
            return false;
        }
        p->base = b;
        p->gran = gran;
    }
    first = (off - b) >> FB_BASE_SHIFT;
    n = (len + (1u << FB_BASE_SHIFT) - 1) >> FB_BASE_SHIFT;
    for (i = first; i < first + n && i < p->nbits; i++) {
        p->bits[i / 64] |= 1ull << (i % 64);
    }
    for (i = 0; i < p->nbits / 64; i++) {
        if (p->bits[i] != UINT64_MAX) {
            return false;
        }
    }
    if (p->nbits % 64 &&
        p->bits[p->nbits / 64] != (1ull << (p->nbits % 64)) - 1) {
        return false;
    }
    *base = b;
    fb_partial_free(p);
    return true;
}
