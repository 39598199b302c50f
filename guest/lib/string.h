/* The freestanding subset of <string.h>/<stdlib.h> the guest needs. */
#ifndef GUEST_STRING_H
#define GUEST_STRING_H
#include "types.h"

void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strstr(const char *h, const char *n);
/* base 0 accepts 0x prefix; *end (if given) points past the digits */
unsigned long long strtoull(const char *s, char **end, int base);
#endif
