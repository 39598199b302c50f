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
 * frag_mib=N (fragment only the lowest N MiB of free memory; default all,
 * which leaves about half the memory free).
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
#include "virtio/balloon.h"

static struct balloon bal;

static void __noreturn bench_fail(const char *msg)
{
	printf("BENCH error msg=\"%s\"\n", msg);
	for (;;)
		irq_wait();
}

static u64 touch_free(void)
{
	u64 n = 0;

	for (u64 p = 1; p < guest_pool.max_pfn; p++)
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

static void bench_inflate(void)
{
	struct balloon *b = &bal;
	struct balloon_opts o;
	const char *frag = arg_get("frag") ? arg_get("frag") : "contig";
	u64 touched = 0, held, t0, seen;
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
		touched = touch_free();
		printf("TOUCH mib=%llu ms=%llu\n", (unsigned long long)(touched >> 8),
		       (unsigned long long)(now_ns() - t0) / 1000000);
	}
	held = fragment(frag, arg_u64("seed", 1), arg_get("frag_mib") ? arg_u64("frag_mib", 0) << 8 : ~0ull);
	printf("BENCH ready guest=fastballoon proto=%s frag=%s touched_mib=%llu free_mib=%llu held_mib=%llu negotiated=0x%llx accel=%s\n",
	       balloon_proto_name(b), frag, (unsigned long long)(touched >> 8),
	       (unsigned long long)(pool_free_pages(&guest_pool) >> 8), (unsigned long long)(held >> 8),
	       (unsigned long long)b->vd.features, accel_name());
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
