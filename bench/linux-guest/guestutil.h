/* Helpers shared by the Linux guest's static programs (toucher, migwork). */
#ifndef FB_GUESTUTIL_H
#define FB_GUESTUTIL_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* a /proc/meminfo field in KiB, or -1 */
static inline long meminfo_kib(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	size_t n = strlen(key);
	long val = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, n) && line[n] == ':') {
			val = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

static inline double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
#endif
