/*
 * The benchmark's guest mode (bench/README.md, "What our guest prints in
 * bench mode"): bring the driver up, optionally touch every free page
 * (touch=1) and fragment the free set (frag=...), print `BENCH ready ...`,
 * then follow num_pages like a normal driver and print one line per piece of
 * work after writing actual:
 *   BENCH op=inflate|deflate proto=P frag=F pages=N reqs=R records=K rounds=n
 *         alloc_ns=.. build_ns=.. send_ns=.. done_ns=.. total_ns=..
 * alloc: pages from the allocator (deflate: out of the balloon bitmap);
 * build: encoding + adding to the ring; send: first notify to last used
 * buffer; done: bookkeeping after the acks (not in the seed's stages).
 * Never exits; the benchmark ends it with QMP quit.
 * Args: proto=auto|pfn|bitmap|ranges (and every driver arg), frag=contig|
 * every-other|random-half|2m (alias chunks2m), seed=N, touch=0|1,
 * touch_mib=N (touch only the lowest N MiB of free memory; default all),
 * frag_mib=N (fragment only the lowest N MiB of free memory; default all,
 * which leaves about half the memory free).
 *
 * bench-report (docs/bench-guest-modes.md): the same set-up, then one free
 * page reporting pass of report_mib MiB per config-change cue, in 2/4 MiB
 * blocks like Linux's page_reporting, one line per pass:
 *   BENCH op=report proto=report frag=F pages=N reqs=R records=K
 *         blocks_4m=.. blocks_2m=.. alloc_ns=.. build_ns=.. send_ns=..
 *         done_ns=.. total_ns=..
 */
#include "types.h"
#include "io.h"
#include "irq.h"
#include "pages.h"
#include "string.h"
#include "printf.h"
#include "report.h"
#include "args.h"
#include "timer.h"
#include "test.h"
#include "virtio/balloon/balloon.h"
#include "virtio/virtqueue.h"

static struct balloon bal;

static void __noreturn bench_fail(const char *msg)
{
	printf("BENCH error msg=\"%s\"\n", msg);
	for (;;)
		irq_wait();
}

/* write one word into each of the lowest 'max' free pages */
static u64 touch_free(u64 max)
{
	u64 n = 0;

	for (u64 p = 1; p < guest_pool.max_pfn && n < max; p++)
		if (pool_page_is_free(&guest_pool, p)) {
			*(volatile u64 *)phys_to_virt(p << PAGE_SHIFT) = p;
			n++;
		}
	return n;
}

/*
 * Hold the complement of the wanted free set among the lowest 'span' free
 * pages (the allocator gives pages lowest first, so an inflate of up to
 * about span/2 pages draws only from the fragmented part); returns pages held.
 */
static u64 fragment(const char *mode, u64 seed, u64 span)
{
	u64 held = 0, seen = 0, x = seed * 0x9e3779b97f4a7c15ull | 1;

	if (!strcmp(mode, "contig"))
		return 0;
	for (u64 p = 1; p < guest_pool.max_pfn && seen < span; p++) {
		bool hold;

		if (!pool_page_is_free(&guest_pool, p))
			continue;
		seen++;
		if (!strcmp(mode, "every-other")) {
			hold = p & 1;
		} else if (!strcmp(mode, "random-half")) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			hold = x & 1;
		} else if (!strcmp(mode, "2m") || !strcmp(mode, "chunks2m")) {
			hold = (p >> 9) & 1;	/* free set: every other 2 MiB-aligned chunk */
		} else {
			bench_fail("frag= must be contig, every-other, random-half or 2m");
		}
		if (hold) {
			pool_reserve_range(&guest_pool, p, 1);
			held++;
		}
	}
	return held;
}

/* driver up, touch, fragment, then `BENCH ready`; returns the frag mode */
static const char *bench_setup(struct balloon *b, const char *proto)
{
	struct balloon_opts o;
	const char *frag = arg_get("frag") ? arg_get("frag") : "contig";
	u64 touched = 0, held, t0;
	int r;

	balloon_opts_default(&o);
	balloon_opts_from_args(&o);
	r = balloon_init(b, &o);	/* before fragmenting: request buffers are contiguous */
	if (r) {
		char msg[160];

		snprintf(msg, sizeof(msg), "balloon init failed (error %d%s, offered 0x%llx)", r,
			 r == -6 ? ": the forced proto= was not offered" : "",
			 (unsigned long long)b->vd.features_offered);
		bench_fail(msg);
	}
	if (arg_bool("touch", false)) {
		t0 = now_ns();
		touched = touch_free(arg_get("touch_mib") ? arg_u64("touch_mib", 0) << 8 : ~0ull);
		printf("TOUCH mib=%llu ms=%llu\n", (unsigned long long)(touched >> 8),
		       (unsigned long long)(now_ns() - t0) / 1000000);
	}
	held = fragment(frag, arg_u64("seed", 1), arg_get("frag_mib") ? arg_u64("frag_mib", 0) << 8 : ~0ull);
	printf("BENCH ready guest=fastballoon proto=%s frag=%s touched_mib=%llu free_mib=%llu held_mib=%llu negotiated=0x%llx accel=%s\n",
	       proto ? proto : balloon_proto_name(b), frag, (unsigned long long)(touched >> 8),
	       (unsigned long long)(pool_free_pages(&guest_pool) >> 8), (unsigned long long)(held >> 8),
	       (unsigned long long)b->vd.features, accel_name());
	return frag;
}

static void bench_inflate(void)
{
	struct balloon *b = &bal;
	const char *frag = bench_setup(b, NULL);
	u64 t0, seen;

	seen = b->vd.config_changes;
	for (;;) {
		u32 target = balloon_num_pages(b);
		u64 before = b->nr_pages, want;
		bool inflate;

		if (target == before) {
			balloon_host_poll(b);
			while (b->vd.config_changes == seen && balloon_num_pages(b) == target)
				udelay(200);
			seen = b->vd.config_changes;
			continue;
		}
		inflate = target > before;
		want = inflate ? target - before : before - target;
		memset(&b->st, 0, sizeof(b->st));
		t0 = now_ns();
		if (inflate)
			balloon_inflate(b, want);
		else
			balloon_deflate(b, want);
		/* actual is written by inflate/deflate; the line comes after it */
		printf("BENCH op=%s proto=%s frag=%s pages=%llu reqs=%llu records=%llu rounds=%llu alloc_ns=%llu build_ns=%llu send_ns=%llu done_ns=%llu total_ns=%llu%s\n",
		       inflate ? "inflate" : "deflate", b->st.proto ? b->st.proto : b->enc->name, frag,
		       (unsigned long long)b->st.pages, (unsigned long long)b->st.reqs, (unsigned long long)b->st.records,
		       (unsigned long long)b->st.rounds, (unsigned long long)b->st.alloc_ns,
		       (unsigned long long)b->st.build_ns, (unsigned long long)b->st.send_ns,
		       (unsigned long long)b->st.done_ns, (unsigned long long)(now_ns() - t0),
		       b->st.pages < want ? " short=1" : "");
		if (inflate && b->st.pages < want) {
			/* out of memory: wait for the next target instead of spinning */
			while (b->vd.config_changes == seen && balloon_num_pages(b) == target)
				udelay(200);
			seen = b->vd.config_changes;
		}
	}
}
GUEST_TEST("bench-inflate", bench_inflate, "benchmark mode: follow num_pages, print BENCH stage lines");

/* ---- bench-report: free page reporting (docs/bench-guest-modes.md) ---- */

#define REPORT_CAP_MAX 32	/* Linux's PAGE_REPORTING_CAPACITY; QEMU's reporting_vq size */

struct report_pass {
	u64 pages, reqs, records, blocks[2];	/* blocks[0]: order 9, blocks[1]: order 10 */
	u64 alloc_ns, build_ns, send_ns, done_ns;
};

/* [pfn, pfn+n) all free; pfn and n multiples of 64 (one bitmap word each) */
static bool block_free(u64 pfn, u64 n)
{
	const u64 *w = guest_pool.bitmap + pfn / 64;

	if (pfn + n > guest_pool.max_pfn)
		return false;
	for (u64 i = 0; i < n / 64; i++)
		if (w[i] != ~0ull)
			return false;
	return true;
}

/*
 * The next free naturally aligned block at or after *cur, of the highest
 * order in [lo, hi] that is free and at most 'left' pages; *cur moves past
 * it. Returns its order, or -1 when there is none.
 */
static int next_block(u64 *cur, u32 lo, u32 hi, u64 left, u64 *pfn)
{
	for (u64 p = *cur; p + (1ull << lo) <= guest_pool.max_pfn; p += 1ull << lo) {
		for (int o = hi; o >= (int)lo; o--) {
			u64 n = 1ull << o;

			if ((p & (n - 1)) || n > left || !block_free(p, n))
				continue;
			*pfn = p;
			*cur = p + n;
			return o;
		}
	}
	return -1;
}

static void report_pass(struct balloon *b, u64 want, u32 lo, u32 hi, u32 cap, struct report_pass *rp)
{
	struct vq_sg sg[REPORT_CAP_MAX];
	u64 cur = 0, t;
	bool more = true;

	memset(rp, 0, sizeof(*rp));
	while (more && rp->pages < want) {
		u32 n = 0;
		u32 len;

		t = now_ns();
		while (n < cap) {
			u64 pfn;
			int o = next_block(&cur, lo, hi, want - rp->pages, &pfn);

			if (o < 0) {
				more = false;
				break;
			}
			sg[n].addr = pfn << PAGE_SHIFT;
			sg[n].len = (u32)(PAGE_SIZE << o);
			sg[n].write = true;
			n++;
			rp->pages += 1ull << o;
			rp->blocks[o - 9]++;
		}
		rp->alloc_ns += now_ns() - t;
		if (!n)
			break;
		t = now_ns();
		if (vq_add(b->rvq, sg, n, rp))
			bench_fail("bench-report: reporting_vq has no room for a request");
		rp->build_ns += now_ns() - t;
		t = now_ns();
		vq_kick(b->rvq);
		if (!vq_wait(b->rvq, 30000) || vq_get_used(b->rvq, &len) != rp)
			bench_fail("bench-report: the device did not use a report within 30 s");
		rp->send_ns += now_ns() - t;
		rp->reqs++;
		rp->records += n;
	}
}

static void bench_report(void)
{
	struct balloon *b = &bal;
	const char *frag = bench_setup(b, "report");
	u32 lo = arg_u64("report_order", 9), hi = arg_u64("report_max_order", 10);
	u32 cap = arg_u64("report_cap", REPORT_CAP_MAX);
	u64 want = arg_get("report_mib") ? arg_u64("report_mib", 0) << 8 : ~0ull, seen, t0;
	struct report_pass rp;

	if (!b->rvq)
		bench_fail("bench-report: REPORTING not negotiated (device free-page-reporting=on, guest report=1)");
	if (b->poison && b->poison_val)
		bench_fail("bench-report: PAGE_POISON with a non-zero poison_val: QEMU would not discard reported pages");
	if (lo < 9 || hi > 10 || hi < lo)
		bench_fail("bench-report: report_order and report_max_order must be 9 or 10, max >= min");
	if (!cap || cap > REPORT_CAP_MAX || cap > b->rvq->num)
		bench_fail("bench-report: report_cap must be 1..32 and fit reporting_vq");
	seen = b->vd.config_changes;
	for (;;) {
		while (b->vd.config_changes == seen)
			udelay(200);
		seen = b->vd.config_changes;
		if (balloon_num_pages(b))
			bench_fail("bench-report: num_pages must stay 0 (the cue is `balloon` to the full size)");
		t0 = now_ns();
		report_pass(b, want, lo, hi, cap, &rp);
		printf("BENCH op=report proto=report frag=%s pages=%llu reqs=%llu records=%llu blocks_4m=%llu blocks_2m=%llu alloc_ns=%llu build_ns=%llu send_ns=%llu done_ns=%llu total_ns=%llu%s\n",
		       frag, (unsigned long long)rp.pages, (unsigned long long)rp.reqs,
		       (unsigned long long)rp.records, (unsigned long long)rp.blocks[1],
		       (unsigned long long)rp.blocks[0], (unsigned long long)rp.alloc_ns,
		       (unsigned long long)rp.build_ns, (unsigned long long)rp.send_ns,
		       (unsigned long long)rp.done_ns, (unsigned long long)(now_ns() - t0),
		       want != ~0ull && rp.pages < want ? " short=1" : "");
	}
}
GUEST_TEST("bench-report", bench_report, "benchmark mode: a free page reporting pass per config change, BENCH lines");
