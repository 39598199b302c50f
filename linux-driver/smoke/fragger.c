/* fragger: leave the guest's free memory fragmented into single 4 KiB pages.
 * Maps argv[1] MiB (default: MemFree minus 128 MiB) without huge pages, writes
 * every page, gives every other one back (MADV_DONTNEED), prints "FRAG mib=N freed_mib=M" to
 * /tmp/frag.out and sleeps, holding the rest, so no free block is larger than
 * one page in that range. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "../../bench/linux-guest/guestutil.h"

int main(int argc, char **argv)
{
	long mib = argc > 1 && atol(argv[1]) > 0 ? atol(argv[1]) :
		   meminfo_kib("MemFree") / 1024 - 128;
	size_t len = (size_t)mib << 20, off;
	char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	FILE *f;

	if (mib <= 0 || mem == MAP_FAILED)
		return 1;
	madvise(mem, len, MADV_NOHUGEPAGE);
	for (off = 0; off < len; off += 4096)
		mem[off] = 1;
	for (off = 0; off < len; off += 8192)
		madvise(mem + off, 4096, MADV_DONTNEED);
	f = fopen("/tmp/frag.out", "w");
	if (!f)
		return 1;
	fprintf(f, "FRAG mib=%ld freed_mib=%ld\n", mib, mib / 2);
	fclose(f);
	for (;;)
		pause();
}
