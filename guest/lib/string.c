/* Freestanding string helpers; gcc may also emit calls to memset/memcpy. */
#include "string.h"

void *memset(void *s, int c, size_t n)
{
	u8 *p = s;

	if (!((uintptr_t)p & 7) && !(n & 7)) {
		u64 v = 0x0101010101010101ULL * (u8)c;
		u64 *q = s;

		for (size_t i = 0; i < n / 8; i++)
			q[i] = v;
		return s;
	}
	while (n--)
		*p++ = (u8)c;
	return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
	u8 *dp = d;
	const u8 *sp = s;

	if (!(((uintptr_t)dp | (uintptr_t)sp | n) & 7)) {
		u64 *dq = d;
		const u64 *sq = s;

		for (size_t i = 0; i < n / 8; i++)
			dq[i] = sq[i];
		return d;
	}
	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	u8 *dp = d;
	const u8 *sp = s;

	if (dp <= sp || dp >= sp + n)
		return memcpy(d, s, n);
	while (n--)
		dp[n] = sp[n];
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] - y[i];
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (u8)*a - (u8)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (u8)*a - (u8)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

char *strchr(const char *s, int c)
{
	for (; *s; s++)
		if (*s == (char)c)
			return (char *)s;
	return c ? NULL : (char *)s;
}

char *strstr(const char *h, const char *n)
{
	size_t ln = strlen(n);

	for (; *h; h++)
		if (!strncmp(h, n, ln))
			return (char *)h;
	return ln ? NULL : (char *)h;
}

static int digit_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

unsigned long long strtoull(const char *s, char **end, int base)
{
	unsigned long long v = 0;

	while (*s == ' ')
		s++;
	if ((base == 0 || base == 16) && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
	    digit_val(s[2]) < 16) {
		s += 2;
		base = 16;
	}
	if (base == 0)
		base = 10;
	while (digit_val(*s) < base)
		v = v * base + digit_val(*s++);
	if (end)
		*end = (char *)s;
	return v;
}
