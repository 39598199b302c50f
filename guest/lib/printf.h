/* printf on the serial console. Supports %d %i %u %x %X %o %p %s %c %%,
 * flags '-' '0', width, precision for %s, and h/hh/l/ll/z length modifiers. */
#ifndef GUEST_PRINTF_H
#define GUEST_PRINTF_H
#include "types.h"

int printf(const char *fmt, ...) __printf(1, 2);
int vprintf(const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
void puts(const char *s);	/* no newline added */
#endif
