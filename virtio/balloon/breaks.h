/*
 * The negative-test knobs: the one table of them.
 *
 * Guest arg break=NAME[,NAME...] makes the driver (or, for the last four,
 * the test program) break one rule on purpose, so that the negative entry
 * named in the row (tests' .cfg files, group negative) shows that the
 * suite's check of that rule can fail. The enum and the break= names are
 * made from this table and from nothing else.
 *
 * The driver reads a knob only through brk(b, BRK_...) (internal.h), at the
 * place named in the row, where the behaviour changes; what a knob does
 * beyond a line is in breaks.c. Everything else in virtio/balloon/ is the
 * protocol as the virtio spec (5.5) and docs/protocol.md say it.
 *
 * X(knob, break=NAME, what it breaks, where, negative entries using it)
 */
#ifndef VIRTIO_BALLOON_BREAKS_H
#define VIRTIO_BALLOON_BREAKS_H

#define BALLOON_BREAKS(X)								\
	X(NO_ACTUAL, "no-actual",							\
	  "actual is never written (5.5.6.1, D6)",					\
	  "target.c balloon_update_actual", "neg-no-actual")				\
	X(WRONG_PFN, "wrong-pfn",							\
	  "inflate names pfn+1 for every page pfn: the wrong pages are discarded (5.5.6)",	\
	  "requests.c req_begin (r->skew)",						\
	  "neg-wrong-pfn neg-fast-wrong-pfn-bitmap neg-fast-wrong-pfn-ranges")	\
	X(REUSE_BEFORE_ACK, "reuse-before-ack",						\
	  "deflated pages are reused before the device acknowledged them (5.5.6.1, D3)", \
	  "requests.c req_submit and deflate_done_run", "neg-reuse-before-ack")	\
	X(NO_POISON, "no-poison",							\
	  "deflated and reported pages are not filled with poison_val (5.5.6.6.1, 5.5.6.7.1, D9/D10)", \
	  "requests.c poison_pages", "neg-deflate-no-poison neg-report-no-poison")	\
	X(STATS_LEN, "stats-len",							\
	  "the stats buffer is 4 bytes short of whole entries (5.5.6.3.1, D7)",		\
	  "stats.c stats_fill", "neg-stats-len")					\
	X(ACTUAL_BYTES, "actual-bytes",							\
	  "actual is written a byte at a time (5.5.6.2.1, legacy)",			\
	  "target.c balloon_update_actual",						\
	  "none: only BALLOON_CHANGE events, rate-limited, could show it (conformance.md)") \
	X(STATS_VALUES, "stats-values",							\
	  "the device is sent other statistics than the test reports (self-check)",	\
	  "stats.c stats_fill", "neg-stats-values")					\
	X(FEATURES_OK, "features-ok",							\
	  "FEATURES_OK is not read back; unoffered bits are kept (3.1.1, 2.2.1)",		\
	  "device.c negotiate",								\
	  "none: QEMU 7.2 masks the bits, so set-up fails before any check (conformance.md)") \
	X(CONFIG_BE, "config-be",							\
	  "config fields are read big-endian (5.5.4)",					\
	  "target.c balloon_num_pages", "neg-config-be")				\
	X(STALE_RINGS, "stale-rings",							\
	  "after a reset the old rings are used again without being set up (2.4, 4.1.4.3.2)", \
	  "device.c balloon_reset and balloon_reinit", "neg-stale-rings")		\
	X(OOM, "oom",									\
	  "pages are taken back on OOM without DEFLATE_ON_OOM (5.5.6.1, D1)",		\
	  "inflate.c balloon_oom_deflate", "neg-oom-without-feature")			\
	X(QNUM_NEGOTIATED, "qnum-negotiated",						\
	  "queue indices follow the negotiated, not the offered, features (FB-D2)",	\
	  "device.c number_queues", "neg-fast-qnum-negotiated")				\
	X(PFN_IN_RECORDS, "pfn-in-records",						\
	  "PFN arrays on inflateq although records were negotiated (FB-D4)",		\
	  "device.c pick_encoder", "neg-fast-pfn-in-records")				\
	X(NO_HOSTREQ_BUF, "no-hostreq-buf",						\
	  "no buffer is posted on host_req_vq (FB-D9)",					\
	  "device.c post_buffers", "neg-fast-no-hostreq-buf")				\
	X(RANGES_NOT_NEG, "ranges-not-negotiated",					\
	  "RANGES records although only PAGE_BITMAP was negotiated (FB-D5)",		\
	  "breaks.c balloon_opts_breaks (declines PAGE_RANGES), device.c pick_encoder", \
	  "neg-fast-ranges-not-negotiated")						\
	X(HINT_USED, "hint-used",							\
	  "FREE_PAGES answers and FREE_PAGE_HINT also name pages in use, b->brk_pfn..+brk_n (FB-D11, D8)", \
	  "free_pages.c answer_free_pages, free_page_hint.c fph_hint",			\
	  "neg-mig-bitmap-hint-used neg-mig-fph-hint-used")				\
	X(NO_DONE, "no-done",								\
	  "FREE_PAGES answers never end with DONE and ignore CANCEL (FB-D10)",		\
	  "free_pages.c fp_flush and fp_finish", "neg-mig-bitmap-no-done")		\
	X(NO_POISON_VAL, "no-poison-val",						\
	  "poison_val is not written to the config before DRIVER_OK (5.5.6.6, D9)",	\
	  "device.c post_buffers", "neg-poison-val-unset")				\
	X(IGNORE_CONFIG, "ignore-config",						\
	  "a change of num_pages is not followed (5.5.6)",				\
	  "target.c balloon_follow", "neg-ignore-config")				\
	X(NO_SUPPRESS, "no-suppress",							\
	  "used-buffer notifications stay enabled where the test suppresses them (2.7.10, 2.8.10, 2.7.7.2)", \
	  "guest/tests/virtio-ring.c",							\
	  "neg-ring-no-suppress neg-ring-packed-no-suppress neg-ring-split-no-suppress") \
	X(NO_IRQ, "no-irq",								\
	  "used-buffer notifications are disabled where the test enables them (2.7.10, 2.8.10)",	\
	  "guest/tests/virtio-ring.c", "neg-ring-no-irq neg-ring-packed-no-irq")	\
	X(NO_KICK, "no-kick",								\
	  "buffers are made available and never notified: every buffer used once (2.7, 2.8)",			\
	  "guest/tests/virtio-ring.c", "neg-ring-no-kick")				\
	X(REINFLATE, "reinflate",							\
	  "deflated pages go back into the balloon before they are used (deflated pages usable)",		\
	  "guest/tests/balloon-inflate.c", "neg-deflate-reinflated")

#define BRK_BIT_(knob, name, breaks, where, entries) BRK_BIT_##knob,
enum { BALLOON_BREAKS(BRK_BIT_) BRK_COUNT };
#undef BRK_BIT_

#define BRK_MASK_(knob, name, breaks, where, entries) BRK_##knob = 1u << BRK_BIT_##knob,
enum balloon_break { BRK_NONE = 0, BALLOON_BREAKS(BRK_MASK_) };
#undef BRK_MASK_

_Static_assert(BRK_COUNT <= 32, "struct balloon_opts.brk is a u32");

struct balloon_opts;
/* break=NAME,NAME,...: the knobs' mask; panics on an unknown name */
u32 balloon_parse_break(const char *s);
/* o->brk from the guest arg break=, and the options a knob changes before negotiation */
void balloon_opts_breaks(struct balloon_opts *o, const char *arg);
#endif
