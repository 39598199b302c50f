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
 *   run CMD...      /bin/sh -c CMD (module unload and load, the cache disk)
 *   reuse start MIB [KIB [MS]]  a child reuses memory as a running guest does
 *                   (bench/linux-guest/migwork.c's ring): every MS (20) ms it
 *                   unmaps the oldest of MIB/KIB chunks of KIB (256) KiB, maps a
 *                   new one and writes it with a pattern of its sequence number,
 *                   and samples MemFree; pages just freed (or named free to the
 *                   host) are written while a migration round runs
 *   reuse check     the child checks every chunk it holds: written_mib,
 *                   bad_pages, memfree_min_kib since the last check (then reset)
 *   reuse stop      the same, and the child exits
 *   pressure start MIB hold|loop [DIR]  memory pressure from a child that the OOM
 *                   killer takes first: hold maps MIB in 4 MiB chunks, writes a
 *                   pattern and keeps it (checked by pressure check); loop maps
 *                   MIB, touches every page and unmaps it, over and over; with DIR
 *                   a second child reads DIR's files over and over (the page
 *                   cache refills as the eater reclaims it)
 *   pressure check  hold: verify the pattern (bad_pages); loop: cycles so far
 *   pressure stop   stop both children; killed=1 if the eater died first (OOM)
 * Static (gcc -static): the initramfs has no libc. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
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

/* --- background workers: a child each, one command byte down a pipe, one line
 * back up another ('c' check, 'q' check and exit) --------------------------- */
struct worker {
	pid_t pid;		/* 0: not running */
	int cmd, res;
};

static struct worker reuse_w, press_w, reader_w;

static long file_meminfo(const char *key)
{
	char line[256];
	size_t n = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

static void set_oom_adj(const char *v)
{
	FILE *f = fopen("/proc/self/oom_score_adj", "w");

	if (f) {
		fputs(v, f);
		fclose(f);
	}
}

/* fork a worker; in the child returns 0 with its two pipe ends in cmd_fd, res_fd */
static pid_t worker_fork(struct worker *w, int *cmd_fd, int *res_fd)
{
	int c[2], r[2];
	pid_t pid;

	if (pipe(c))
		return -1;
	if (pipe(r)) {
		close(c[0]);
		close(c[1]);
		return -1;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(c[1]);
		close(r[0]);
		*cmd_fd = c[0];
		*res_fd = r[1];
		return 0;
	}
	close(c[0]);
	close(r[1]);
	if (pid < 0) {
		close(c[1]);
		close(r[0]);
		return -1;
	}
	w->pid = pid;
	w->cmd = c[1];
	w->res = r[0];
	return pid;
}

static void worker_say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void worker_say(int fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(fd, buf, n) < 0)
		_exit(3);
}

/* send one command byte and read one line back within timeout_ms: 0, or -1 when
 * the child is gone (EOF) or silent */
static int worker_ask(struct worker *w, char c, char *line, size_t len, int timeout_ms)
{
	size_t n = 0;
	double t0 = now_ms();

	line[0] = 0;
	if (write(w->cmd, &c, 1) != 1)
		return -1;
	while (n < len - 1) {
		struct pollfd p = { .fd = w->res, .events = POLLIN };
		int left = timeout_ms - (int)(now_ms() - t0);

		if (left <= 0 || poll(&p, 1, left) <= 0 || read(w->res, line + n, 1) != 1)
			return -1;
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = 0;
	return 0;
}

/* end a worker: 'q' (or SIGKILL when kill_it), wait; its exit status */
static int worker_end(struct worker *w, int kill_it, char *line, size_t len)
{
	int st = 0;

	if (line)
		line[0] = 0;
	if (kill_it)
		kill(w->pid, SIGKILL);
	else if (worker_ask(w, 'q', line, len, 120000))
		kill(w->pid, SIGKILL);
	waitpid(w->pid, &st, 0);
	close(w->cmd);
	close(w->res);
	memset(w, 0, sizeof(*w));
	return st;
}

/* the command waiting for a worker (0 none, 'c', 'q'), waiting up to ms */
static int worker_next(int cmd_fd, int ms)
{
	struct pollfd p = { .fd = cmd_fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, ms) <= 0)
		return 0;
	if (read(cmd_fd, &c, 1) != 1)
		return 'q';	/* the checker is gone */
	return c;
}

static void reuse_child(int cmd_fd, int res_fd, long mib, long kib, long ms)
{
	size_t chunk = (size_t)kib / 4, nslots = ((size_t)mib << 8) / chunk, next = 0;
	char **slot = calloc(nslots, sizeof(*slot));
	uint64_t *seq = calloc(nslots, sizeof(*seq)), made = 0, seed = 0x7265757365ull;
	long mfmin = file_meminfo("MemFree");
	double t_next = now_ms();

	if (!slot || !seq)
		_exit(2);
	for (;;) {
		int left = (int)(t_next - now_ms()), c;

		c = worker_next(cmd_fd, left > 0 ? left : 0);
		if (c) {
			size_t bad = 0, held = 0;
			long mf;

			for (size_t s = 0; s < nslots; s++) {
				if (!slot[s])
					continue;
				held++;
				for (size_t p = 0; p < chunk; p++)
					bad += check_page((uint64_t *)(slot[s] + p * PAGE), seed,
							  seq[s] * chunk + p) >= 0;
			}
			mf = file_meminfo("MemFree");
			worker_say(res_fd, "written_mib=%llu reuse_mib=%zu held_mib=%zu bad_pages=%zu "
				   "memfree_min_kib=%ld memfree_kib=%ld",
				   (unsigned long long)(made * chunk >> 8), nslots * chunk >> 8,
				   held * chunk >> 8, bad, mfmin, mf);
			mfmin = mf;
			if (c == 'q')
				_exit(0);
			continue;
		}
		t_next += ms;
		if (slot[next])
			munmap(slot[next], chunk * PAGE);
		slot[next] = mmap(NULL, chunk * PAGE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (slot[next] == MAP_FAILED) {
			slot[next] = NULL;
		} else {
			for (size_t p = 0; p < chunk; p++)
				fill((uint64_t *)(slot[next] + p * PAGE), seed, made * chunk + p);
			seq[next] = made++;
		}
		next = (next + 1) % nslots;
		{
			long mf = file_meminfo("MemFree");

			if (mf >= 0 && mf < mfmin)
				mfmin = mf;
		}
	}
}

static void cmd_reuse(char *what, char *args)
{
	char line[512];
	int cfd, rfd;

	if (what && !strcmp(what, "start")) {
		long mib = 0, kib = 256, ms = 20;

		if (args)
			sscanf(args, "%ld %ld %ld", &mib, &kib, &ms);
		if (reuse_w.pid || mib <= 0 || kib < 4 || kib % 4 || ms <= 0 || (mib << 10) < kib) {
			reply("reuse error msg=\"usage: reuse start MIB [KIB [MS]], once\"");
			return;
		}
		if (worker_fork(&reuse_w, &cfd, &rfd) == 0)
			reuse_child(cfd, rfd, mib, kib, ms);
		reply(reuse_w.pid ? "reuse ok pid=%d" : "reuse error pid=%d", reuse_w.pid);
		return;
	}
	if (!reuse_w.pid || !what || (strcmp(what, "check") && strcmp(what, "stop"))) {
		reply("reuse error msg=\"usage: reuse start|check|stop (after start)\"");
		return;
	}
	if (!strcmp(what, "stop")) {
		worker_end(&reuse_w, 0, line, sizeof(line));
		reply("reuse %s %s", line[0] ? "ok" : "error", line);
		return;
	}
	if (worker_ask(&reuse_w, 'c', line, sizeof(line), 120000)) {
		worker_end(&reuse_w, 1, NULL, 0);
		reply("reuse error msg=\"the reuse child died or did not answer\"");
		return;
	}
	reply("reuse %s %s", strstr(line, " bad_pages=0 ") ? "ok" : "bad", line);
}

static void press_hold_child(int cmd_fd, int res_fd, long mib)
{
	size_t pages = (size_t)mib << 8;
	uint64_t seed = 0x9e55u;
	double t0 = now_ms();
	char *m = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		_exit(2);
	madvise(m, pages * PAGE, MADV_NOHUGEPAGE);	/* 4 KiB at a time: what pressure asks for */
	for (size_t p = 0; p < pages; p++)
		fill((uint64_t *)(m + p * PAGE), seed, p);
	for (;;) {
		int c = worker_next(cmd_fd, -1);
		size_t bad = 0;

		for (size_t p = 0; p < pages; p++)
			bad += check_page((uint64_t *)(m + p * PAGE), seed, p) >= 0;
		worker_say(res_fd, "mode=hold mib=%ld bad_pages=%zu fill_ms=%.0f", mib, bad, now_ms() - t0);
		if (c == 'q')
			_exit(0);
	}
}

static void press_loop_child(int cmd_fd, int res_fd, long mib)
{
	size_t len = (size_t)mib << 20;
	unsigned long cycles = 0, failed = 0;

	for (;;) {
		int c = worker_next(cmd_fd, 0);
		char *m;

		if (c) {
			worker_say(res_fd, "mode=loop mib=%ld cycles=%lu mmap_failed=%lu", mib, cycles, failed);
			if (c == 'q')
				_exit(0);
		}
		m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED) {
			failed++;
			usleep(10000);
			continue;
		}
		for (size_t off = 0; off < len; off += PAGE)
			m[off] = (char)(cycles | 1);
		munmap(m, len);
		cycles++;
	}
}

static void reader_child(const char *dir)
{
	static char buf[1 << 16];

	for (;;) {
		DIR *d = opendir(dir);
		struct dirent *e;
		char path[512];

		while (d && (e = readdir(d))) {
			int fd;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			fd = open(path, O_RDONLY);
			while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
				;
			if (fd >= 0)
				close(fd);
		}
		if (d)
			closedir(d);
		else
			sleep(1);
	}
}

static void cmd_pressure(char *what, char *args)
{
	char line[512], mode[16] = "", dir[256] = "";
	int cfd, rfd, st;
	long mib = 0;

	if (what && !strcmp(what, "start")) {
		if (args)
			sscanf(args, "%ld %15s %255s", &mib, mode, dir);
		if (press_w.pid || mib <= 0 || (strcmp(mode, "hold") && strcmp(mode, "loop"))) {
			reply("pressure error msg=\"usage: pressure start MIB hold|loop [DIR], once\"");
			return;
		}
		if (worker_fork(&press_w, &cfd, &rfd) == 0) {
			set_oom_adj("1000");	/* the OOM killer's first choice, never the pattern's holder */
			if (!strcmp(mode, "hold"))
				press_hold_child(cfd, rfd, mib);
			press_loop_child(cfd, rfd, mib);
		}
		if (dir[0] && worker_fork(&reader_w, &cfd, &rfd) == 0) {
			set_oom_adj("1000");
			reader_child(dir);
		}
		reply(press_w.pid ? "pressure ok pid=%d reader=%d" : "pressure error pid=%d reader=%d",
		      press_w.pid, reader_w.pid);
		return;
	}
	if (!press_w.pid || !what || (strcmp(what, "check") && strcmp(what, "stop"))) {
		reply("pressure error msg=\"usage: pressure start|check|stop (after start)\"");
		return;
	}
	if (!strcmp(what, "check")) {
		if (worker_ask(&press_w, 'c', line, sizeof(line), 300000)) {
			reply("pressure killed msg=\"the pressure child died (OOM?) or did not answer\"");
			return;
		}
		reply("pressure %s %s", strstr(line, "bad_pages=") && !strstr(line, "bad_pages=0") ? "bad" : "ok", line);
		return;
	}
	if (reader_w.pid)
		worker_end(&reader_w, 1, NULL, 0);
	st = worker_end(&press_w, 0, line, sizeof(line));
	if (!line[0])
		reply("pressure killed signal=%d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	else
		reply("pressure %s %s killed=0", strstr(line, "bad_pages=") && !strstr(line, "bad_pages=0") ? "bad" : "ok",
		      line);
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
	static const char *const mem_keys[] = { "MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached",
						"Shmem", "SReclaimable", "AnonPages", NULL };
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
		if (!strcmp(cmd, "reuse") || !strcmp(cmd, "pressure")) {
			a = strtok_r(NULL, " ", &save);
			(cmd[0] == 'r' ? cmd_reuse : cmd_pressure)(a, save);
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
