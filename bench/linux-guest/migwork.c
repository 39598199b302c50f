/* migwork: the stock Linux guest's side of the migration benchmark (bench/migration.py).
 *
 * 1. Takes LIVE MiB of live data (fbmig_live_mib=, default 512) and fills it with a
 *    pattern that depends on the page's index, the word and a seed; keeps one 64-bit
 *    checksum per page beside it.
 * 2. The workload: maps WORK MiB (fbmig_work_mib=, default 3276 = 3.2 GiB, capped at
 *    MemFree minus fbmig_reserve_mib=, default 96: MemFree, not MemAvailable, so a page
 *    cache read before, fbcache=1, stays), writes every byte of it with non-zero data,
 *    and unmaps it, so those pages go back to the kernel's free lists still holding
 *    data (this kernel does not zero on free: init_on_free is off).
 * 3. Prints "MIGWORK ready live_mib=L work_mib=W fill_ms=F work_ms=T memfree_kib=
 *    memtotal_kib= cached_kib=" and waits for a line on stdin (the serial console).
 *    The benchmark migrates the guest meanwhile.
 * 4. Meanwhile it reuses free memory, as a running guest does: every fbmig_reuse_ms=
 *    (default 20) it unmaps the oldest of a ring of fbmig_reuse_kib= (256) KiB chunks,
 *    fbmig_reuse_mib= (32) MiB in all, and maps and writes a new one. Pages the kernel
 *    just freed, or that a free page hint named, are allocated and written while a
 *    migration round runs; they must arrive (fbmig_reuse_mib=0: off). It also samples
 *    MemFree at each step, so taking free memory away (FREE_PAGE_HINT) shows.
 * 5. On "meminfo": prints "MIGWORK meminfo memfree_kib= cached_kib=" (the benchmark
 *    reads the page cache left after a drop-cache request).
 * 6. On "verify": recomputes every live page's checksum and pattern and every word of
 *    the chunks it holds, and prints "MIGWORK verify live_mib=L bad_pages=N
 *    reuse_mib=R reuse_written_mib=W reuse_bad_pages=B memfree_min_kib=M
 *    data_verified=0|1 ms=T"; then waits again (and goes on reusing).
 *
 * Static (gcc -static), run from the initramfs's init when the kernel command line
 * has fbmig=1. The live data is mlock()ed so nothing can move it away. */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "guestutil.h"

static long cmdline_long(const char *key, long def)
{
	char buf[4096], pat[64];
	FILE *f = fopen("/proc/cmdline", "r");
	size_t n;
	char *p;

	if (!f)
		return def;
	n = fread(buf + 1, 1, sizeof(buf) - 2, f);
	fclose(f);
	buf[0] = ' ';
	buf[n + 1] = 0;
	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(buf, pat);
	return p ? strtol(p + strlen(pat), NULL, 10) : def;
}

/* splitmix64 finaliser: page and word index to a non-zero pseudo-random word */
static inline uint64_t pattern(uint64_t page, uint64_t word, uint64_t seed)
{
	uint64_t z = (page << 9 | word) + seed * 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (z ^ (z >> 31)) | 1;
}

#define WORDS (4096 / 8)

static uint64_t page_sum(const uint64_t *w)
{
	uint64_t s = 0xcbf29ce484222325ull;

	for (int i = 0; i < WORDS; i++)
		s = (s ^ w[i]) * 0x100000001b3ull;
	return s;
}

/* The reuse ring: chunks mapped, written with a pattern of their sequence number,
 * and unmapped again oldest first. */
struct reuse {
	size_t nslots, chunk_pages, next;
	char **slot;
	uint64_t *seq;
	uint64_t made, seed;
	long memfree_min;
};

static int reuse_init(struct reuse *r, long mib, long kib, uint64_t seed)
{
	r->chunk_pages = kib > 0 ? (size_t)(kib + 3) / 4 : 64;
	r->nslots = mib > 0 ? ((size_t)mib << 8) / r->chunk_pages : 0;
	r->slot = calloc(r->nslots + 1, sizeof(*r->slot));
	r->seq = calloc(r->nslots + 1, sizeof(*r->seq));
	r->next = r->made = 0;
	r->seed = seed ^ 0x7265757365ull;
	r->memfree_min = meminfo_kib("MemFree");
	return r->slot && r->seq ? 0 : -1;
}

static void reuse_step(struct reuse *r)
{
	size_t len = r->chunk_pages * 4096;
	long mf;
	char *c;

	if (!r->nslots)
		return;
	if (r->slot[r->next]) {
		munmap(r->slot[r->next], len);
		r->slot[r->next] = NULL;
	}
	c = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c != MAP_FAILED) {
		for (size_t p = 0; p < r->chunk_pages; p++) {
			uint64_t *w = (uint64_t *)(c + p * 4096);

			for (int i = 0; i < WORDS; i++)
				w[i] = pattern(r->made * r->chunk_pages + p, i, r->seed);
		}
		r->slot[r->next] = c;
		r->seq[r->next] = r->made++;
	}
	r->next = (r->next + 1) % r->nslots;
	mf = meminfo_kib("MemFree");
	if (mf >= 0 && mf < r->memfree_min)
		r->memfree_min = mf;
}

static size_t reuse_bad(const struct reuse *r)
{
	size_t bad = 0;

	for (size_t s = 0; s < r->nslots; s++) {
		if (!r->slot[s])
			continue;
		for (size_t p = 0; p < r->chunk_pages; p++) {
			const uint64_t *w = (const uint64_t *)(r->slot[s] + p * 4096);
			uint64_t page = r->seq[s] * r->chunk_pages + p;
			int ok = 1;

			for (int i = 0; ok && i < WORDS; i++)
				ok = w[i] == pattern(page, i, r->seed);
			bad += !ok;
		}
	}
	return bad;
}

int main(void)
{
	long live_mib = cmdline_long("fbmig_live_mib", 512);
	long work_mib = cmdline_long("fbmig_work_mib", 3276);
	long reserve_mib = cmdline_long("fbmig_reserve_mib", 96);
	uint64_t seed = (uint64_t)cmdline_long("fbmig_seed", 1);
	size_t live_pages = (size_t)live_mib << 8, work_len;
	uint64_t *live, *sums;
	char *work, line[128];
	long avail;
	long reuse_ms = cmdline_long("fbmig_reuse_ms", 20);
	struct reuse reuse;
	double t0, fill_ms, work_ms;

	live = mmap(NULL, live_pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sums = malloc(live_pages * sizeof(*sums));
	if (live == MAP_FAILED || !sums) {
		perror("migwork: live data");
		return 1;
	}
	if (mlock(live, live_pages * 4096))
		perror("migwork: mlock (continuing)");
	t0 = now_ms();
	for (size_t p = 0; p < live_pages; p++) {
		uint64_t *w = live + p * WORDS;

		for (int i = 0; i < WORDS; i++)
			w[i] = pattern(p, i, seed);
		sums[p] = page_sum(w);
	}
	fill_ms = now_ms() - t0;

	avail = meminfo_kib("MemFree") / 1024 - reserve_mib;
	if (work_mib > avail)
		work_mib = avail > 0 ? avail : 0;
	work_len = (size_t)work_mib << 20;
	t0 = now_ms();
	if (work_len) {
		work = mmap(NULL, work_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (work == MAP_FAILED) {
			perror("migwork: workload mmap");
			return 1;
		}
		for (size_t off = 0; off < work_len; off += 4096)
			memset(work + off, 0xa5 ^ (int)((off >> 12) & 0x5a), 4096);
		munmap(work, work_len);
	}
	work_ms = now_ms() - t0;
	if (reuse_init(&reuse, cmdline_long("fbmig_reuse_mib", 32), cmdline_long("fbmig_reuse_kib", 256),
		       seed)) {
		perror("migwork: reuse ring");
		return 1;
	}
	printf("MIGWORK ready live_mib=%ld work_mib=%ld fill_ms=%.0f work_ms=%.0f memfree_kib=%ld "
	       "memtotal_kib=%ld cached_kib=%ld\n", live_mib, work_mib, fill_ms, work_ms,
	       meminfo_kib("MemFree"), meminfo_kib("MemTotal"), meminfo_kib("Cached"));
	fflush(stdout);

	for (;;) {
		struct pollfd pfd = { .fd = 0, .events = POLLIN };
		size_t bad = 0, rbad;
		int n = poll(&pfd, 1, reuse.nslots ? (int)reuse_ms : -1);

		if (n == 0) {
			reuse_step(&reuse);
			continue;
		}
		if (n < 0 || !fgets(line, sizeof(line), stdin))
			break;
		if (!strncmp(line, "meminfo", 7)) {
			printf("MIGWORK meminfo memfree_kib=%ld cached_kib=%ld\n", meminfo_kib("MemFree"),
			       meminfo_kib("Cached"));
			fflush(stdout);
			continue;
		}
		if (strncmp(line, "verify", 6))
			continue;
		t0 = now_ms();
		for (size_t p = 0; p < live_pages; p++) {
			const uint64_t *w = live + p * WORDS;
			int ok = page_sum(w) == sums[p];

			for (int i = 0; ok && i < WORDS; i += 37)	/* the sum could be stale too */
				ok = w[i] == pattern(p, i, seed);
			bad += !ok;
		}
		rbad = reuse_bad(&reuse);
		printf("MIGWORK verify live_mib=%ld bad_pages=%zu reuse_mib=%zu reuse_written_mib=%llu "
		       "reuse_bad_pages=%zu memfree_min_kib=%ld data_verified=%d ms=%.0f\n",
		       live_mib, bad, (reuse.nslots * reuse.chunk_pages) >> 8,
		       (unsigned long long)((reuse.made * reuse.chunk_pages) >> 8), rbad,
		       reuse.memfree_min, bad == 0 && rbad == 0, now_ms() - t0);
		fflush(stdout);
	}
	return 0;
}
