/*
 * Test reporting in the style of kvm-unit-tests. Every check prints one line
 * on the console that tests/run turns into TAP:
 *   PASS: prefix: message        check held
 *   FAIL: prefix: message        check broke
 *   XFAIL: prefix: message       known device deviation (cite it in the message)
 *   XPASS: prefix: message       a known deviation did not show: counts as failure
 *   SKIP: prefix: message        check could not run (never counted as a pass)
 *   INFO: prefix: message        information only
 * report_summary() prints the SUMMARY line and returns the exit code;
 * exit_guest() ends the run through isa-debug-exit.
 */
#ifndef GUEST_REPORT_H
#define GUEST_REPORT_H
#include "types.h"

void report(bool pass, const char *fmt, ...) __printf(2, 3);
/* xfail: the deviation is expected (known device bug); pass: the check held */
void report_xfail(bool xfail, bool pass, const char *fmt, ...) __printf(3, 4);
void report_skip(const char *fmt, ...) __printf(1, 2);
void report_info(const char *fmt, ...) __printf(1, 2);
void report_prefix_push(const char *prefix);
void report_prefix_pushf(const char *fmt, ...) __printf(1, 2);
void report_prefix_pop(void);
int report_summary(void);	/* returns EXIT_PASS, EXIT_FAIL or EXIT_SKIP */
unsigned report_failures(void);

/* Values for exit_guest(); QEMU's exit status is value * 2 + 1 (1, 3, 77). */
#define EXIT_PASS 0
#define EXIT_FAIL 1
#define EXIT_SKIP 38

void __noreturn exit_guest(int code);
/* Print a message and fail the whole run at once. */
void __noreturn panic(const char *fmt, ...) __printf(1, 2);
#define assert(cond) do { if (!(cond)) panic("assert failed: %s (%s:%d)", #cond, __FILE__, __LINE__); } while (0)
#endif
