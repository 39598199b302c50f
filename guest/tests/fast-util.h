/* Shared pieces of the fast protocol and hostile-input tests (groups fast, hostile). */
#ifndef GUEST_TESTS_FAST_UTIL_H
#define GUEST_TESTS_FAST_UTIL_H
#include "types.h"
#include "virtio/balloon/balloon.h"
#include "virtio/fb_records.h"

/* QOM fast-stats of /machine/peripheral/balloon0/virtio-backend (docs/protocol.md 5.5.6.z) */
struct fast_stats {
	u64 requests, records, runs, pages, inflated, deflated, discard_calls, willneed_calls, bad;
	u64 last_records, last_runs, last_pages, last_bad;
};
bool fast_stats_read(struct fast_stats *s);

/* a cheap page pattern (pfn and seed in every word, never zero) */
void fpat_fill(u64 pfn, u64 n, u64 seed);
/* pages of [pfn, pfn+n) not holding the pattern */
u64 fpat_bad(u64 pfn, u64 n, u64 seed);
u64 fpat_zero_pages(u64 pfn, u64 n);	/* pages that read all zero */

/* guest RAM as QEMU maps it on q35 (low part below 4 GiB, the rest from 4 GiB) */
u32 fast_ram_map(struct fb_ram *ram, u32 max);
u64 fast_ram_top(void);		/* end of the highest RAM range, bytes */
/* the record types the device must accept */
u32 fast_types(struct balloon *b);

/* build one record header (little-endian x86 in place); returns 32 */
u64 rec_hdr(void *p, u16 type, u16 shift, u16 flags, u16 reserved, u64 req_id, u64 start, u64 len);
u64 rec_range(void *p, u64 start, u64 count);	/* one entry, returns 16 */
#endif
