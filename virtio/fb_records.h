/*
 * fastballoon records (docs/protocol.md, "5.5.6.x Records"): building BITMAP
 * and RANGES records from runs of pages, reading a valid stream back, a
 * reference model of the device's handling of malformed input (the FB-V12
 * table, used by the hostile tests as their oracle), and the driver's answer
 * to host requests (FB-D10, FB-D12).
 *
 * Pure C over guest/lib/types.h only: the guest links it, and
 * tests/unit/test-encode.c tests it on the host. Little-endian host assumed
 * (x86), so le16/le64 fields are plain loads and stores.
 */
#ifndef VIRTIO_FB_RECORDS_H
#define VIRTIO_FB_RECORDS_H
#include "types.h"

#define FB_F_PAGE_BITMAP 16
#define FB_F_PAGE_RANGES 17
#define FB_F_HOST_REQ 18

#define FB_CFG_GRANULE 16	/* config offset of discard_granule_shift */
#define FB_CFG_SIZE 20

#define FB_REC_BITMAP 1
#define FB_REC_RANGES 2
#define FB_REC_STATUS 3
#define FB_FLAG_DONE 1

#define FB_SHIFT_MIN 12
#define FB_SHIFT_MAX 30

#define FB_CMD_DROP_CACHE 1
#define FB_CMD_FREE_PAGES 2
#define FB_CMD_CANCEL 3
#define FB_HOST_REQ_SIZE 24

struct fb_hdr {
	u16 type;
	u16 page_shift;
	u16 flags;
	u16 reserved;
	u64 req_id;
	u64 start_pfn;
	u64 len;
} __packed;

struct fb_range {
	u64 start_pfn;
	u64 count;
} __packed;

struct fb_host_req {
	u16 cmd;
	u16 reserved0;
	u32 reserved1;
	u64 id;
	u64 param;
} __packed;

_Static_assert(sizeof(struct fb_hdr) == 32, "record header is 32 bytes");
_Static_assert(sizeof(struct fb_range) == 16, "range entry is 16 bytes");
_Static_assert(sizeof(struct fb_host_req) == 24, "host request is 24 bytes");

/* ---- building ---- */

/*
 * Appends records to one buffer. Runs are best given in ascending order
 * (the allocator's order): a BITMAP record grows while the next run is
 * within FB_BITMAP_GAP_WORDS zero words of its end (a new header costs 32
 * bytes = 4 words), and a RANGES entry merges with the next run when they
 * touch. Bits of long runs are set a 64-bit word at a time.
 */
#define FB_BITMAP_GAP_WORDS 4

struct fb_writer {
	u8 *buf;
	u64 cap;		/* bytes */
	u64 len;		/* bytes written */
	s64 cur;		/* offset of the open record's header, -1 if none */
	u64 records;
	u64 pages;		/* pages named, in units of their record's page */
};

void fb_writer_init(struct fb_writer *w, void *buf, u64 cap);
/* name pages [pfn, pfn + n) (units of 2^shift bytes); returns pages taken (< n when full) */
u64 fb_add_bitmap(struct fb_writer *w, u64 pfn, u64 n, u16 shift);
u64 fb_add_ranges(struct fb_writer *w, u64 pfn, u64 n, u16 shift);
/* bytes a set of runs would take (for choosing a format): bitmap and ranges */
struct fb_run { u64 pfn, n; };
u64 fb_estimate_bitmap(const struct fb_run *runs, u64 nruns);
u64 fb_estimate_ranges(const struct fb_run *runs, u64 nruns);

/* ---- reading a valid stream ---- */

/* fn(pfn, n) in 4 KiB pages, per run (adjacent bits and touching entries merged per record) */
typedef void (*fb_run_fn)(u64 pfn, u64 n, void *ctx);
/* returns the number of records, or -1 if the stream is not well formed */
s64 fb_for_each(const void *buf, u64 len, fb_run_fn fn, void *ctx);

/* ---- the device, as docs/protocol.md says it behaves (FB-V12) ---- */

struct fb_seg {
	const void *addr;
	u64 len;
	bool write;
};

struct fb_ram {
	u64 start, end;	/* bytes, [start, end) */
};

struct fb_model {
	u32 types;			/* allowed record types: 1 << FB_REC_BITMAP | ... */
	const struct fb_ram *ram;	/* guest RAM, sorted, not overlapping */
	u32 nram;
};

struct fb_verdict {
	u64 bad;		/* bad-records the device must count */
	u64 records;		/* records seen (headers read) */
	u64 named_in_ram;	/* 4 KiB pages validly named inside RAM (with repeats) */
	u32 rows;		/* bit r set: table row r applied at least once */
};

/*
 * Walk one buffer as the device must (order of the FB-V12 checks). Calls
 * fn(pfn, n) for every 4 KiB piece of guest RAM a valid record or entry
 * names (these pieces are the only memory the device may discard).
 */
void fb_model_buffer(const struct fb_model *m, const struct fb_seg *segs, u32 nsegs,
		     fb_run_fn fn, void *ctx, struct fb_verdict *v);

/* ---- host requests (driver side) ---- */

/*
 * A minimal answer to one host request (FB-D10, FB-D12), for drivers that
 * serve nothing: DROP_CACHE frees 0 pages, FREE_PAGES is answered with one
 * empty record of type rec_type with DONE. The balloon driver uses it for
 * the requests it refuses (unknown cmd, reserved fields set); it serves
 * DROP_CACHE and FREE_PAGES itself (balloon_host_poll in virtio/balloon/hostreq.c).
 * Writes the answer into out (at least 40 bytes) and returns its length,
 * or 0 when the request gets no answer (CANCEL, or id 0).
 */
u64 fb_answer_host_req(const void *req, u32 req_len, u16 rec_type, void *out, u64 cap);
#endif
