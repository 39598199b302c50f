/* Shared pieces of the balloon/virtio conformance tests (group stock). */
#ifndef GUEST_TESTS_BALLOON_UTIL_H
#define GUEST_TESTS_BALLOON_UTIL_H
#include "types.h"
#include "virtio/balloon/balloon.h"

/* The guard: pages never given away, holding a pattern and a checksum,
 * verified at the end of every test (nothing lost). */
void guard_init(u64 npages);
void guard_check(void);

/* page patterns: value depends on pfn and seed */
void pattern_fill(u64 pfn, u64 n, u64 seed);
bool pattern_ok(u64 pfn, u64 n, u64 seed);	/* every page holds its pattern */
u64 pattern_bad(u64 pfn, u64 n, u64 seed);	/* pages that do not */
bool pages_zero(u64 pfn, u64 n);
bool pages_hold_u32(u64 pfn, u64 n, u32 v);

/* balloon from guest args; reports and returns false when it cannot start */
bool bt_init(struct balloon *b);
/* QMP through the host agent: 0 on success, reply holds the "return" JSON */
int qmp(char *reply, size_t len, const char *fmt, ...) __printf(3, 4);
u64 ram_bytes(void);
bool qmp_set_target_pages(u64 num_pages);	/* QMP balloon so num_pages becomes this */
bool qmp_actual_pages(u64 *pages);		/* query-balloon, as pages in the balloon */
/* poll (or wait for the config interrupt) until num_pages == want */
bool wait_num_pages(struct balloon *b, u32 want, u64 timeout_ms);
#endif
