/* toucher: write (almost) all of the Linux guest's available memory, then free it.
 *
 * For the benchmark's "touched" scenario: afterwards every guest page the balloon
 * can take has been written, so the host really holds memory behind it and the
 * inflate has something to discard. Writes one non-zero word into every 4 KiB page
 * of MemAvailable minus a reserve (default 64 MiB, or argv[1] in MiB), at most
 * argv[2] MiB when that is given and non-zero, exits, and the pages return to the
 * guest's free lists. Prints one line:
 *   TOUCH mib=N ms=T
 * Static (gcc -static) so the initramfs needs no libc. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "guestutil.h"

int main(int argc, char **argv)
{
	long reserve_mib = argc > 1 ? strtol(argv[1], NULL, 10) : 64;
	long max_mib = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
	long avail_kib = meminfo_kib("MemAvailable");
	long mib;
	size_t len, off;
	volatile uint64_t *p;
	char *mem;
	double t0;

	if (avail_kib < 0) {
		fprintf(stderr, "toucher: no MemAvailable in /proc/meminfo\n");
		return 1;
	}
	mib = avail_kib / 1024 - reserve_mib;
	if (mib <= 0) {
		fprintf(stderr, "toucher: only %ld KiB available, reserve %ld MiB\n", avail_kib, reserve_mib);
		return 1;
	}
	if (max_mib > 0 && mib > max_mib)
		mib = max_mib;
	len = (size_t)mib << 20;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("toucher: mmap");
		return 1;
	}
	t0 = now_ms();
	for (off = 0; off < len; off += 4096) {
		p = (volatile uint64_t *)(mem + off);
		*p = 0x5a5a5a5a00000000ull | (off >> 12);
	}
	printf("TOUCH mib=%ld ms=%.0f\n", mib, now_ms() - t0);
	fflush(stdout);
	munmap(mem, len);
	return 0;
}
