/* fragment: leave the Linux guest's free memory physically fragmented before the
 * benchmark inflates its balloon (the Linux rows of the fragmentation sweep).
 *
 *   fragment every-other|2m [RESERVE_MIB]
 *
 * Takes all of MemAvailable but RESERVE_MIB (default 64) in 4 KiB pages (no THP),
 * writes one word per page so each has a frame, reads each page's frame number from
 * /proc/self/pagemap (root), and gives back the pages whose frame is odd
 * (every-other: every other 4 KiB page of guest memory stays in use) or whose 2 MiB
 * block is odd (2m: every other 2 MiB block stays in use). A child keeps the rest
 * until the guest is switched off; the parent prints one line and exits:
 *   FRAG mode=M kept_mib=K freed_mib=F touch_ms=W ms=T
 * Frames are chosen by physical address, not by virtual order, so the free memory
 * the balloon then takes is exactly as fragmented as the mode says. Static. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "guestutil.h"

#define PAGE 4096ul
#define PFN_MASK ((1ull << 55) - 1)
#define PRESENT (1ull << 63)

int main(int argc, char **argv)
{
	int two_m = argc > 1 && !strcmp(argv[1], "2m");
	long reserve_mib = argc > 2 ? strtol(argv[2], NULL, 10) : 64;
	long avail_kib = meminfo_kib("MemAvailable");
	size_t pages, kept = 0, freed = 0, batch = 4096, run_start = 0, run_len = 0;
	uint64_t *pfns;
	char *mem;
	int pm, fds[2];
	double t0 = now_ms(), touch_ms;
	char ok = 0;
	pid_t pid;

	if (argc < 2 || (!two_m && strcmp(argv[1], "every-other"))) {
		fprintf(stderr, "usage: fragment every-other|2m [RESERVE_MIB]\n");
		return 2;
	}
	if (avail_kib / 1024 <= reserve_mib) {
		fprintf(stderr, "fragment: only %ld KiB available\n", avail_kib);
		return 1;
	}
	pages = (size_t)(avail_kib / 1024 - reserve_mib) << 8;
	if (pipe(fds))
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid > 0) {		/* the parent waits for the child's word, then leaves */
		close(fds[1]);
		if (read(fds[0], &ok, 1) != 1 || ok != 1)
			return 1;
		return 0;
	}
	close(fds[0]);
	mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pfns = malloc(batch * sizeof(*pfns));
	pm = open("/proc/self/pagemap", O_RDONLY);
	if (mem == MAP_FAILED || !pfns || pm < 0) {
		perror("fragment: mmap/pagemap");
		return 1;
	}
	madvise(mem, pages * PAGE, MADV_NOHUGEPAGE);	/* one frame per 4 KiB page */
	for (size_t p = 0; p < pages; p++)
		*(volatile uint64_t *)(mem + p * PAGE) = p | 1;
	touch_ms = now_ms() - t0;
	/* pages to give back are collected into runs of consecutive virtual pages, one
	 * madvise per run: in mode 2m a run is usually a whole 2 MiB block */
	for (size_t p0 = 0; p0 < pages; p0 += batch) {
		size_t n = pages - p0 < batch ? pages - p0 : batch;

		if (pread(pm, pfns, n * 8, (off_t)((uintptr_t)(mem + p0 * PAGE) / PAGE * 8)) != (ssize_t)(n * 8)) {
			perror("fragment: pagemap read");
			return 1;
		}
		for (size_t i = 0; i < n; i++) {
			uint64_t pfn = pfns[i] & PFN_MASK;

			if (!(pfns[i] & PRESENT) || !pfn) {
				fprintf(stderr, "fragment: no frame for page %zu (not root?)\n", p0 + i);
				return 1;
			}
			if ((two_m ? pfn >> 9 : pfn) & 1) {
				if (run_len && run_start + run_len != p0 + i) {
					madvise(mem + run_start * PAGE, run_len * PAGE, MADV_DONTNEED);
					run_len = 0;
				}
				if (!run_len)
					run_start = p0 + i;
				run_len++;
				freed++;
			} else {
				kept++;
			}
		}
	}
	if (run_len)
		madvise(mem + run_start * PAGE, run_len * PAGE, MADV_DONTNEED);
	close(pm);
	printf("FRAG mode=%s kept_mib=%zu freed_mib=%zu touch_ms=%.0f ms=%.0f\n", argv[1], kept >> 8, freed >> 8,
	       touch_ms, now_ms() - t0);
	fflush(stdout);
	ok = 1;
	if (write(fds[1], &ok, 1) != 1)
		return 1;
	for (;;)
		pause();	/* keep the pages in use until the guest is switched off */
}
