/* floor: the host's physical limit for discarding a balloon's worth of memory.
 *
 * Times ONE madvise(MADV_DONTNEED) over MIB MiB of private anonymous memory, the
 * call QEMU's balloon ends in (ram_block_discard_range), in three states:
 *   untouched   mapped, never written (nothing resident: the idle guest's case)
 *   touched-4k  every 4 KiB page written, THP refused (MADV_NOHUGEPAGE)
 *   touched-thp every page written after MADV_HUGEPAGE, as QEMU asks for guest RAM
 * Each state is set up afresh and timed REPS times; the lines say how much was
 * really resident and how much of it in huge pages, so a host with THP off shows it.
 *
 * usage: floor MIB [REPS] [MODE...]        (default REPS 5, all three modes)
 * output, one line per repetition, then one summary line per mode:
 *   FLOOR mode=M mib=N rep=R ms=T resident_mib=X thp_mib=Y
 *   FLOOR mode=M mib=N reps=R median_ms=T min_ms=T max_ms=T thp_mib=Y */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define HUGE (2ul << 20)

static const char *const all_modes[] = { "untouched", "touched-4k", "touched-thp" };

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Rss and AnonHugePages of this process, in KiB, from smaps_rollup */
static void rollup(long *rss_kib, long *thp_kib)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];

	*rss_kib = *thp_kib = -1;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Rss:", 4))
			*rss_kib = strtol(line + 4, NULL, 10);
		else if (!strncmp(line, "AnonHugePages:", 14))
			*thp_kib = strtol(line + 14, NULL, 10);
	}
	fclose(f);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* one repetition: map (2 MiB aligned), prepare, time the discard, unmap */
static int one(const char *mode, size_t len, double *ms, long *res_kib, long *thp_kib)
{
	size_t maplen = len + HUGE, off;
	char *raw, *mem;
	long base_rss, base_thp, rss, thp;
	double t0;

	rollup(&base_rss, &base_thp);
	raw = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED) {
		fprintf(stderr, "floor: mmap %zu MiB: %s\n", maplen >> 20, strerror(errno));
		return -1;
	}
	mem = (char *)(((uintptr_t)raw + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
	if (!strcmp(mode, "touched-4k") && madvise(mem, len, MADV_NOHUGEPAGE))
		fprintf(stderr, "floor: MADV_NOHUGEPAGE: %s\n", strerror(errno));
	if (!strcmp(mode, "touched-thp") && madvise(mem, len, MADV_HUGEPAGE))
		fprintf(stderr, "floor: MADV_HUGEPAGE: %s (THP off?)\n", strerror(errno));
	if (strcmp(mode, "untouched"))
		for (off = 0; off < len; off += 4096)
			mem[off] = 1;
	rollup(&rss, &thp);
	*res_kib = rss - base_rss;
	*thp_kib = thp - base_thp;
	t0 = now_ms();
	if (madvise(mem, len, MADV_DONTNEED)) {
		fprintf(stderr, "floor: MADV_DONTNEED: %s\n", strerror(errno));
		munmap(raw, maplen);
		return -1;
	}
	*ms = now_ms() - t0;
	munmap(raw, maplen);
	return 0;
}

static int run_mode(const char *mode, long mib, int reps)
{
	double *ms = calloc(reps, sizeof(*ms));
	long res = 0, thp = 0;
	int r;

	if (!ms)
		return -1;
	for (r = 0; r < reps; r++) {
		if (one(mode, (size_t)mib << 20, &ms[r], &res, &thp)) {
			free(ms);
			return -1;
		}
		printf("FLOOR mode=%s mib=%ld rep=%d ms=%.4f resident_mib=%ld thp_mib=%ld\n",
		       mode, mib, r + 1, ms[r], res >> 10, thp >> 10);
		fflush(stdout);
	}
	qsort(ms, reps, sizeof(*ms), cmp_double);
	printf("FLOOR mode=%s mib=%ld reps=%d median_ms=%.4f min_ms=%.4f max_ms=%.4f thp_mib=%ld\n", mode, mib,
	       reps, reps % 2 ? ms[reps / 2] : (ms[reps / 2 - 1] + ms[reps / 2]) / 2, ms[0], ms[reps - 1],
	       thp >> 10);
	fflush(stdout);
	free(ms);
	return 0;
}

int main(int argc, char **argv)
{
	long mib;
	int reps = 5, i, j, found;

	if (argc < 2 || (mib = strtol(argv[1], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: floor MIB [REPS] [untouched|touched-4k|touched-thp ...]\n");
		return 2;
	}
	if (argc > 2 && (reps = atoi(argv[2])) <= 0) {
		fprintf(stderr, "floor: REPS must be a positive number, not '%s'\n", argv[2]);
		return 2;
	}
	if (argc <= 3) {
		for (i = 0; i < 3; i++)
			if (run_mode(all_modes[i], mib, reps))
				return 1;
		return 0;
	}
	for (i = 3; i < argc; i++) {
		for (found = 0, j = 0; j < 3; j++)
			found |= !strcmp(argv[i], all_modes[j]);
		if (!found) {
			fprintf(stderr, "floor: unknown mode '%s' (untouched, touched-4k, touched-thp)\n", argv[i]);
			return 2;
		}
		if (run_mode(argv[i], mib, reps))
			return 1;
	}
	return 0;
}
