/*
 * From named pages to discardable runs: clip to guest RAM, merge
 * neighbours, split at host-page (granule) boundaries, and track host
 * pages that were only partly named. Pure C, no allocation except the
 * partial-page bitmap.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef FB_RUNS_H
#define FB_RUNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "fb-proto.h"

/* One stretch of guest RAM; sorted by gpa, not overlapping. A new range
 * starts wherever the backing RAM block (or its offset) changes, so runs
 * never cross a block end. */
struct fb_ram_range {
    uint64_t gpa, len;
};

/* Returns false unless ranges are sorted, non-empty, non-overlapping and
 * do not wrap: the clipper relies on it. */
bool fb_ram_ranges_valid(const struct fb_ram_range *r, size_t n);

typedef void (*fb_run_fn)(void *opaque, uint64_t gpa, uint64_t len,
                          size_t ram_idx);

struct fb_runs {
    const struct fb_ram_range *ram;
    size_t nram;
    fb_run_fn emit;
    void *opaque;
    /* pending merged run */
    bool have;
    uint64_t gpa, len;
    size_t ram_idx;
    /* once-per-unit accounting of pages outside RAM */
    bool bad_unit_seen;
    uint64_t bad_unit;
    /* results */
    uint64_t runs;              /* runs emitted */
    uint64_t bytes;             /* bytes emitted */
    uint64_t out_of_ram;        /* units that named pages outside RAM */
};

void fb_runs_init(struct fb_runs *s, const struct fb_ram_range *ram,
                  size_t nram, fb_run_fn emit, void *opaque);
/* Feed named pages [gpa, gpa + len) of 'unit' (see fb_parse_ops.run).
 * Returns true if part of it lay outside RAM and this is the first time
 * for this unit (the caller counts and traces it). */
bool fb_runs_add(struct fb_runs *s, uint64_t gpa, uint64_t len,
                 uint64_t unit);
/* Emit the pending run. */
void fb_runs_flush(struct fb_runs *s);

/* Split [off, off + len) at multiples of 'gran' (a power of two):
 * head = [off, first boundary) if off is unaligned, mid = whole granules,
 * tail = after the last boundary. Pieces may be empty (len 0). When the
 * span lies inside one granule without touching both its ends, it is all
 * in 'head'. */
struct fb_span {
    uint64_t off, len;
};
void fb_split_granule(uint64_t off, uint64_t len, uint64_t gran,
                      struct fb_span *head, struct fb_span *mid,
                      struct fb_span *tail);

/* One host page that was only partly named, in 4 KiB pieces, like QEMU's
 * PartiallyBalloonedPage: a new host page forgets the old one. */
struct fb_partial {
    uint64_t base;              /* block offset of the host page */
    uint64_t gran;              /* host page size, > 4 KiB */
    uint64_t *bits;             /* gran / 4 KiB bits, NULL when idle */
    uint64_t nbits;
};

void fb_partial_init(struct fb_partial *p);
/* Mark [off, off + len) (4 KiB aligned, inside one host page of size
 * gran) named. Returns true when the whole host page is now named: the
 * caller discards 'base' .. 'base + gran' and the tracker resets. Returns
 * false also when memory for the bitmap cannot be had (nothing named is
 * lost except the chance to discard). */
bool fb_partial_add(struct fb_partial *p, uint64_t off, uint64_t len,
                    uint64_t gran, uint64_t *base);
void fb_partial_free(struct fb_partial *p);

#endif
