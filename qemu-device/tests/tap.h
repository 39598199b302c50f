/*
 * Minimal TAP producer: results are buffered so the plan ("1..N") comes
 * first; tap_done() prints everything and returns the exit status.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *tap_buf;
static size_t tap_len, tap_cap;
static int tap_n, tap_failed;

static void tap_append(const char *fmt, va_list ap)
{
    char line[1024];
    int n = vsnprintf(line, sizeof(line), fmt, ap);

    if (n < 0) {
        return;
    }
    if ((size_t)n >= sizeof(line)) {
        n = sizeof(line) - 1;
    }
    if (tap_len + n + 1 > tap_cap) {
        tap_cap = (tap_len + n + 1) * 2;
        tap_buf = realloc(tap_buf, tap_cap);
        if (!tap_buf) {
            abort();
        }
    }
    memcpy(tap_buf + tap_len, line, n + 1);
    tap_len += n;
}

static void tap_line(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tap_append(fmt, ap);
    va_end(ap);
}

/* ok(cond, "description %d", ...) -> 1 if passed */
static int ok(int cond, const char *fmt, ...)
{
    char desc[900];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(desc, sizeof(desc), fmt, ap);
    va_end(ap);
    tap_n++;
    if (!cond) {
        tap_failed++;
    }
    tap_line("%s %d - %s\n", cond ? "ok" : "not ok", tap_n, desc);
    return cond;
}

/* Diagnostics for the test just run. */
static void diag(const char *fmt, ...)
{
    char msg[900];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    tap_line("# %s\n", msg);
}

static int tap_done(void)
{
    printf("1..%d\n", tap_n);
    if (tap_buf) {
        fputs(tap_buf, stdout);
    }
    fflush(stdout);
    free(tap_buf);
    return tap_failed ? 1 : 0;
}

#endif
