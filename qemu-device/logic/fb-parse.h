/*
 * Record parser: one virtqueue buffer (a list of driver-readable segments)
 * in, page runs and malformed-record reports out. Never reads outside the
 * segments, never allocates, runs in time linear in the buffer length.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef FB_PARSE_H
#define FB_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "fb-proto.h"

struct fb_seg {
    const uint8_t *base;
    size_t len;
};

/* A valid record's header, decoded. */
struct fb_rec {
    uint16_t type, page_shift, flags;
    uint64_t req_id, start_pfn, len;
    uint64_t status;            /* STATUS records: the value */
};

struct fb_parse_ops {
    /* Pages [gpa, gpa + len) were named; len > 0 and gpa + len does not
     * wrap. 'unit' numbers the record (BITMAP) or entry (RANGES) that
     * named them, increasing, for once-per-unit accounting downstream. */
    void (*run)(void *opaque, uint64_t gpa, uint64_t len, uint64_t unit);
    /* Malformed input at byte 'offset' of the buffer. May be NULL. */
    void (*bad)(void *opaque, enum fb_bad reason, uint64_t offset);
    /* A valid record, before its runs. May be NULL. */
    void (*record)(void *opaque, const struct fb_rec *rec);
};

struct fb_parse_cfg {
    unsigned allowed_types;     /* bit (1 << FB_REC_x) per allowed type */
    bool response_queue;        /* host_resp_vq: flags/req_id/STATUS allowed */
    bool has_writable;          /* the buffer had device-writable parts */
};

struct fb_parse_result {
    uint64_t records;           /* headers read, valid or not */
    uint64_t bad;               /* malformed records/entries/buffers */
    uint64_t units;             /* units handed to ops->run, for callers */
};

void fb_parse(const struct fb_seg *segs, size_t nsegs,
              const struct fb_parse_cfg *cfg,
              const struct fb_parse_ops *ops, void *opaque,
              struct fb_parse_result *res);

#endif
