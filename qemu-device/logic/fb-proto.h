/*
 * fastballoon wire format (docs/protocol.md). Pure C, shared by the QEMU
 * device, the host unit tests and the fuzz target.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef FB_PROTO_H
#define FB_PROTO_H

#include <stdint.h>

/* Feature bits (device-specific range; 0-8 are taken elsewhere). */
#define FB_F_PAGE_BITMAP        16
#define FB_F_PAGE_RANGES        17
#define FB_F_HOST_REQ           18

/* Config space: le32 discard_granule_shift appended after poison_val. */
#define FB_CONFIG_GRANULE_OFFSET 16
#define FB_CONFIG_SIZE          20

/* Record header: le16 type, page_shift, flags, reserved;
 * le64 req_id, start_pfn, len. */
#define FB_HDR_SIZE             32
#define FB_HDR_TYPE             0
#define FB_HDR_PAGE_SHIFT       2
#define FB_HDR_FLAGS            4
#define FB_HDR_RESERVED         6
#define FB_HDR_REQ_ID           8
#define FB_HDR_START_PFN        16
#define FB_HDR_LEN              24

#define FB_REC_BITMAP           1
#define FB_REC_RANGES           2
#define FB_REC_STATUS           3

#define FB_FLAG_DONE            1u

#define FB_PAGE_SHIFT_MIN       12
#define FB_PAGE_SHIFT_MAX       30

/* RANGES entry: le64 start_pfn, le64 count. */
#define FB_RANGE_SIZE           16
#define FB_STATUS_SIZE          8

/* Host request (host_req_vq): le16 cmd, le16 0, le32 0, le64 id, le64 param */
#define FB_HOST_REQ_SIZE        24
#define FB_CMD_DROP_CACHE       1
#define FB_CMD_FREE_PAGES       2
#define FB_CMD_CANCEL           3

/* The 4 KiB unit stock virtio-balloon and the statistics count in. */
#define FB_BASE_SHIFT           12

/* Reasons a record is malformed, in the order of the table in
 * docs/protocol.md (FB-V12); the value is the table row. */
enum fb_bad {
    FB_BAD_NONE = 0,
    FB_BAD_DIRECTION = 1,
    FB_BAD_EMPTY = 2,
    FB_BAD_TRUNCATED = 3,
    FB_BAD_LENGTH = 4,
    FB_BAD_TYPE = 5,
    FB_BAD_RESERVED = 6,
    FB_BAD_SHIFT = 7,
    FB_BAD_ALIGN = 8,
    FB_BAD_OVERFLOW = 9,
    FB_BAD_ZERO_COUNT = 10,
    FB_BAD_RANGE_OVERFLOW = 11,
    FB_BAD_OUT_OF_RAM = 12,
    FB_BAD__MAX
};

const char *fb_bad_name(enum fb_bad reason);

static inline uint16_t fb_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint64_t fb_le64(const uint8_t *p)
{
    uint64_t v = 0;
    int i;

    for (i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static inline void fb_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void fb_put_le64(uint8_t *p, uint64_t v)
{
    int i;

    for (i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

#endif
