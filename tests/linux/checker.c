/* fbcheck: the guest side of stage `linux` (tests/linux/run), PID 1's only job.
 *
 * Holds patterned memory outside the balloon and answers the host's commands,
 * one per line on the serial console, with exactly one line each:
 *   FBCHK <command> ok|bad|... key=value ...
 * The host drives the balloon through QMP and asks after every step whether
 * the pattern is still intact, so a page the driver hands to the host by
 * mistake (a wrong PFN, bit or range; a compaction mix-up) shows up as a
 * bad page: the host discards it and it reads back as zeros.
 *
 * Commands (see tests/linux/README.md):
 *   hold R MIB      map region R (a-h) and write the pattern into every word
 *   verify          check every word of every live page of every region
 *   punch R [low|high]  free half of R's pages (frames 0-15 of every 32),
 *                   highest first (holes for compaction, the lowest reused
 *                   first); low/high: only those below/above their median
 *   release R       unmap region R
 *   corrupt R bit|drop  damage one page of R (the negative checks); repair
 *                   rewrites it
 *   eat MIB         a child (first in line for the OOM killer) maps MIB,
 *                   writes and checks it, exits: ok, bad, or killed
 *   meminfo, vmstat fields of /proc/meminfo and /proc/vmstat the host needs
 *   compact         echo 1 > /proc/sys/vm/compact_memory
 *   features        the balloon device's negotiated feature bits (sysfs)
 *   file GLOB       the first matching (small) file's lines joined with " | "
 *                   (the driver's debugfs stage counters)
 *   run CMD...      /bin/sh -c CMD (module unload and load)
 * Static (gcc -static): the initramfs has no libc. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096ul
#define WORDS (PAGE / 8)
#define NREG 8

struct region {
	uint64_t *base;		/* NULL: unused */
	size_t pages;
	unsigned char *dead;	/* per page: 1 when punched out */
	uint64_t seed;
};

static struct region reg[NREG];
static struct {			/* the page corrupt damaged, for repair */
	struct region *reg;
	size_t page;
} flipped;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* every word differs from its neighbours, its page's other words and other
 * pages' words, and is never 0 (what a discarded page reads back as) */
static inline uint64_t pattern(uint64_t seed, uint64_t page, uint64_t word)
{
	uint64_t z = seed ^ (page * 0x9e3779b97f4a7c15ull);

	return (z + word * 0xbf58476d1ce4e5b9ull) | 1;
}

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
	va_list ap;

	fputs("FBCHK ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static struct region *region_of(const char *name)
{
	if (!name || name[0] < 'a' || name[0] >= 'a' + NREG || name[1])
		return NULL;
	return &reg[name[0] - 'a'];
}

static void fill(uint64_t *w, uint64_t seed, size_t page)
{
	for (size_t i = 0; i < WORDS; i++)
		w[i] = pattern(seed, page, i);
}

/* first wrong word of a page, or -1 */
static long check_page(const uint64_t *w, uint64_t seed, size_t page)
{
	for (size_t i = 0; i < WORDS; i++)
		if (w[i] != pattern(seed, page, i))
			return (long)i;
	return -1;
}

static void cmd_hold(char *name, char *mib_s)
{
	struct region *r = region_of(name);
	long mib = mib_s ? strtol(mib_s, NULL, 10) : 0;
	double t0 = now_ms();

	if (!r || r->base || mib <= 0) {
		reply("hold error msg=\"usage: hold R MIB, R a free region a-h\"");
		return;
	}
	r->pages = (size_t)mib << 8;
	r->base = mmap(NULL, r->pages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r->dead = calloc(r->pages, 1);
	if (r->base == MAP_FAILED || !r->dead) {
		reply("hold error msg=\"mmap %ld MiB: %s\"", mib, strerror(errno));
		r->base = NULL;
		return;
	}
	/* 4 KiB pages: a punched page is free at once (a huge page would only
	 * be split later), so compaction finds the holes punch makes */
	madvise(r->base, r->pages * PAGE, MADV_NOHUGEPAGE);
	r->seed = 0x5eed0000ull + (uint64_t)(r - reg) * 0x1234567ull;
	for (size_t p = 0; p < r->pages; p++)
		fill(r->base + p * WORDS, r->seed, p);
	reply("hold ok region=%s mib=%ld ms=%.0f", name, mib, now_ms() - t0);
}

static void cmd_verify(void)
{
	size_t pages = 0, bad = 0;
	long first_word = -1;
	char where[96] = "";
	uint64_t got = 0, want = 0;
	double t0 = now_ms();

	for (int k = 0; k < NREG; k++) {
		struct region *r = &reg[k];

		for (size_t p = 0; r->base && p < r->pages; p++) {
			const uint64_t *w = r->base + p * WORDS;
			long i;

			if (r->dead[p])
				continue;
			pages++;
			i = check_page(w, r->seed, p);
			if (i < 0)
				continue;
			if (!bad++) {
				first_word = i;
				got = w[i];
				want = pattern(r->seed, p, i);
				snprintf(where, sizeof(where), "region=%c page=%zu word=%ld", 'a' + k, p, i);
			}
		}
	}
	if (!bad)
		reply("verify ok pages=%zu bad_pages=0 ms=%.0f", pages, now_ms() - t0);
	else
		reply("verify bad pages=%zu bad_pages=%zu first=\"%s\" got=%#llx want=%#llx zero=%d ms=%.0f",
		      pages, bad, where, (unsigned long long)got, (unsigned long long)want,
		      got == 0, now_ms() - t0);
	(void)first_word;
}

static int by_pfn_down(const void *a, const void *b)
{
	uint64_t x = ((const uint64_t *)a)[0], y = ((const uint64_t *)b)[0];

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Free half of R's pages by frame number, highest frame first: the lowest
 * holes are freed last, so they head the free lists and the next allocations
 * (the balloon's) land low in memory, where compaction's migration scanner
 * starts. The half is frames 0-15 of every 32: no free block above 64 KiB,
 * and each run starts where compaction's free scanner samples whatever its
 * stride (it doubles up to 32 after an empty block, so holes at odd frames
 * alone would never be found again). Frames from /proc/self/pagemap (root). */
static void cmd_punch(char *name, char *half)
{
	struct region *r = region_of(name);
	uint64_t (*odd)[2], e;
	size_t n = 0, skipped = 0;
	int pm = open("/proc/self/pagemap", O_RDONLY);

	if (!r || !r->base || pm < 0 || (half && strcmp(half, "low") && strcmp(half, "high"))) {
		reply("punch error msg=\"no region %s, or no pagemap\"", name ? name : "");
		if (pm >= 0)
			close(pm);
		return;
	}
	odd = malloc(r->pages * sizeof(*odd));
	for (size_t p = 0; odd && p < r->pages; p++) {
		off_t at = (off_t)((uintptr_t)(r->base + p * WORDS) / PAGE * 8);
		int tries = 0;

		if (r->dead[p])
			continue;
		/* a page being migrated (kcompactd) shows no frame for a moment */
		while ((e = 0, pread(pm, &e, 8, at) != 8 || !(e >> 63) || !(e & ((1ull << 55) - 1))) &&
		       ++tries < 100)
			usleep(10000);
		if (tries == 100) {	/* left alone; verify reads it like any other page */
			skipped++;
			continue;
		}
		if (!(e & 16)) {
			odd[n][0] = e & ((1ull << 55) - 1);
			odd[n++][1] = p;
		}
	}
	close(pm);
	if (!odd) {
		reply("punch error msg=\"out of memory\"");
		return;
	}
	qsort(odd, n, sizeof(*odd), by_pfn_down);
	/* "low" or "high": only the half of those frames below (above) their median */
	if (half && !strcmp(half, "low"))
		memmove(odd, odd + n / 2, (n - n / 2) * sizeof(*odd));
	if (half)
		n -= n / 2;
	for (size_t i = 0; i < n; i++) {
		if (madvise(r->base + odd[i][1] * WORDS, PAGE, MADV_DONTNEED)) {
			reply("punch error msg=\"madvise: %s\"", strerror(errno));
			free(odd);
			return;
		}
		r->dead[odd[i][1]] = 1;
	}
	free(odd);
	reply("punch ok region=%s freed_pages=%zu no_frame=%zu", name, n, skipped);
}

static void cmd_release(char *name)
{
	struct region *r = region_of(name);

	if (!r || !r->base) {
		reply("release error msg=\"no region %s\"", name ? name : "");
		return;
	}
	munmap(r->base, r->pages * PAGE);
	free(r->dead);
	memset(r, 0, sizeof(*r));
	reply("release ok region=%s", name);
}

/* the negatives: "bit" flips one bit of page 0, "drop" gives page 2 back to the
 * kernel behind the pattern's back, so it reads zeros as a page the host
 * discarded by mistake would; repair rewrites the page */
static void cmd_corrupt(char *name, char *how)
{
	struct region *r = region_of(name);
	int drop = how && !strcmp(how, "drop");

	if (!r || !r->base || r->pages < 3 || flipped.reg || !how || (!drop && strcmp(how, "bit"))) {
		reply("corrupt error msg=\"usage: corrupt R bit|drop, once before repair\"");
		return;
	}
	flipped.reg = r;
	flipped.page = drop ? 2 : 0;
	if (drop)
		madvise(r->base + 2 * WORDS, PAGE, MADV_DONTNEED);
	else
		r->base[WORDS / 2] ^= 1ull << 40;
	reply("corrupt ok region=%s page=%zu how=%s", name, flipped.page, how);
}

static void cmd_repair(void)
{
	if (!flipped.reg) {
		reply("repair error msg=\"nothing corrupted\"");
		return;
	}
	fill(flipped.reg->base + flipped.page * WORDS, flipped.reg->seed, flipped.page);
	flipped.reg = NULL;
	reply("repair ok");
}

/* the child: map, write, check, report through the pipe, exit */
static void eat_child(int fd, long mib)
{
	size_t pages = (size_t)mib << 8, bad = 0;
	uint64_t *m;
	char msg[64];
	FILE *f = fopen("/proc/self/oom_score_adj", "w");

	/* if the OOM killer must kill, it kills us, not the holder of the pattern */
	if (f) {
		fputs("1000", f);
		fclose(f);
	}
	m = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		_exit(2);
	for (size_t p = 0; p < pages; p++)
		fill(m + p * WORDS, 0xea7, p);
	for (size_t p = 0; p < pages; p++)
		bad += check_page(m + p * WORDS, 0xea7, p) >= 0;
	snprintf(msg, sizeof(msg), "%zu\n", bad);
	if (write(fd, msg, strlen(msg)) < 0)
		_exit(3);
	_exit(0);
}

static void cmd_eat(char *mib_s)
{
	long mib = mib_s ? strtol(mib_s, NULL, 10) : 0;
	int fds[2], st;
	char buf[64] = "";
	double t0 = now_ms();
	pid_t pid;
	ssize_t n;

	if (mib <= 0 || pipe(fds)) {
		reply("eat error msg=\"usage: eat MIB\"");
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		eat_child(fds[1], mib);
	}
	close(fds[1]);
	n = pid > 0 ? read(fds[0], buf, sizeof(buf) - 1) : -1;
	close(fds[0]);
	if (pid < 0 || waitpid(pid, &st, 0) != pid) {
		reply("eat error msg=\"fork/wait: %s\"", strerror(errno));
		return;
	}
	if (WIFSIGNALED(st))
		reply("eat killed mib=%ld signal=%d ms=%.0f", mib, WTERMSIG(st), now_ms() - t0);
	else if (WEXITSTATUS(st) || n <= 0)
		reply("eat error mib=%ld status=%d", mib, WEXITSTATUS(st));
	else if (strtol(buf, NULL, 10))
		reply("eat bad mib=%ld bad_pages=%ld ms=%.0f", mib, strtol(buf, NULL, 10), now_ms() - t0);
	else
		reply("eat ok mib=%ld bad_pages=0 ms=%.0f", mib, now_ms() - t0);
}

/* "key value" files (/proc/vmstat) and "Key: value kB" ones (/proc/meminfo):
 * print the asked keys as key=value, missing ones as key=-1 */
static void cmd_fields(const char *cmd, const char *path, const char *const *keys)
{
	char line[256], out[1024] = "";
	long val[32];
	int nk = 0;
	FILE *f = fopen(path, "r");

	while (keys[nk])
		val[nk++] = -1;
	while (f && fgets(line, sizeof(line), f)) {
		for (int k = 0; k < nk; k++) {
			size_t l = strlen(keys[k]);

			if (!strncmp(line, keys[k], l) && (line[l] == ' ' || line[l] == ':'))
				val[k] = strtol(line + l + 1, NULL, 10);
		}
	}
	if (f)
		fclose(f);
	for (int k = 0; k < nk; k++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), " %s=%ld", keys[k], val[k]);
	reply("%s %s%s", cmd, f ? "ok" : "error", out);
}

static void cmd_compact(void)
{
	double t0 = now_ms();
	FILE *f = fopen("/proc/sys/vm/compact_memory", "w");
	int ok = f && fputs("1", f) >= 0;

	if (f)
		ok = !fclose(f) && ok;
	if (ok)
		reply("compact ok ms=%.0f", now_ms() - t0);
	else
		reply("compact error msg=\"%s\"", strerror(errno));
}

static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	int ok = f && fgets(buf, (int)len, f);

	if (f)
		fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = 0;
	return ok;
}

/* the virtio device with device id 5 (balloon): its features as a hex word
 * (sysfs gives one '0'/'1' per bit, bit 0 first) and its driver */
static void cmd_features(void)
{
	DIR *d = opendir("/sys/bus/virtio/devices");
	struct dirent *e;
	char path[512], buf[256], drv[256];

	while (d && (e = readdir(d))) {
		unsigned long long bits = 0;
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/virtio/devices/%s/device", e->d_name);
		if (!read_line(path, buf, sizeof(buf)) || strtol(buf, NULL, 0) != 5)
			continue;
		snprintf(path, sizeof(path), "/sys/bus/virtio/devices/%s/driver", e->d_name);
		n = readlink(path, drv, sizeof(drv) - 1);
		drv[n > 0 ? n : 0] = 0;
		snprintf(path, sizeof(path), "/sys/bus/virtio/devices/%s/features", e->d_name);
		if (n <= 0 || !read_line(path, buf, sizeof(buf))) {
			reply("features unbound dev=%s", e->d_name);
			closedir(d);
			return;
		}
		for (int i = 0; i < 64 && buf[i]; i++)
			if (buf[i] == '1')
				bits |= 1ull << i;
		reply("features ok dev=%s bits=%#llx driver=%s", e->d_name, bits,
		      strrchr(drv, '/') ? strrchr(drv, '/') + 1 : drv);
		closedir(d);
		return;
	}
	if (d)
		closedir(d);
	reply("features none msg=\"no virtio device with id 5\"");
}

/* the first file matching a glob (the driver's debugfs directory is named after
 * its virtio device), its lines joined with " | " */
static void cmd_file(const char *pattern)
{
	char line[512], out[4096] = "", path[512];
	glob_t gl;
	FILE *f = NULL;

	if (pattern && !glob(pattern, 0, NULL, &gl)) {
		snprintf(path, sizeof(path), "%s", gl.gl_pathv[0]);
		globfree(&gl);
		f = fopen(path, "r");
	}
	if (!f) {
		reply("file missing path=%s", pattern ? pattern : "");
		return;
	}
	while (fgets(line, sizeof(line), f) && strlen(out) < sizeof(out) - 8) {
		line[strcspn(line, "\n")] = 0;
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", out[0] ? " | " : "", line);
	}
	fclose(f);
	reply("file ok path=%s text=\"%s\"", path, out);
}

static void cmd_run(const char *cmdline)
{
	int st = system(cmdline);

	reply("run %s rc=%d", st == 0 ? "ok" : "failed", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int main(void)
{
	static const char *const vm_keys[] = {
		"balloon_inflate", "balloon_deflate", "balloon_migrate", "oom_kill",
		"compact_migrate_scanned", "compact_free_scanned", "compact_isolated", "pgmigrate_success",
		"pgmigrate_fail", NULL };
	static const char *const mem_keys[] = { "MemTotal", "MemFree", "MemAvailable", NULL };
	char line[1024];
	FILE *f = fopen("/proc/self/oom_score_adj", "w");

	if (f) {		/* never the OOM killer's choice: we hold the pattern */
		fputs("-1000", f);
		fclose(f);
	}
	reply("ready pid=%d", getpid());
	while (fgets(line, sizeof(line), stdin)) {
		char *cmd, *a, *b, *save;

		line[strcspn(line, "\r\n")] = 0;
		cmd = strtok_r(line, " ", &save);
		if (!cmd)
			continue;
		if (!strcmp(cmd, "run")) {
			cmd_run(save);
			continue;
		}
		a = strtok_r(NULL, " ", &save);
		b = strtok_r(NULL, " ", &save);
		if (!strcmp(cmd, "hold"))
			cmd_hold(a, b);
		else if (!strcmp(cmd, "verify"))
			cmd_verify();
		else if (!strcmp(cmd, "punch"))
			cmd_punch(a, b);
		else if (!strcmp(cmd, "release"))
			cmd_release(a);
		else if (!strcmp(cmd, "corrupt"))
			cmd_corrupt(a, b);
		else if (!strcmp(cmd, "repair"))
			cmd_repair();
		else if (!strcmp(cmd, "eat"))
			cmd_eat(a);
		else if (!strcmp(cmd, "meminfo"))
			cmd_fields("meminfo", "/proc/meminfo", mem_keys);
		else if (!strcmp(cmd, "vmstat"))
			cmd_fields("vmstat", "/proc/vmstat", vm_keys);
		else if (!strcmp(cmd, "compact"))
			cmd_compact();
		else if (!strcmp(cmd, "features"))
			cmd_features();
		else if (!strcmp(cmd, "file"))
			cmd_file(a);
		else
			reply("%s unknown", cmd);
	}
	reply("eof");
	return 0;
}
