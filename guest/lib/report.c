/* kvm-unit-tests style reporting; tests/run parses these lines. */
#include "report.h"
#include "printf.h"
#include "string.h"
#include "io.h"

static char prefix[256];
static unsigned nr_pass, nr_fail, nr_xfail, nr_skip;

void report_prefix_push(const char *p)
{
	size_t len = strlen(prefix);

	snprintf(prefix + len, sizeof(prefix) - len, "%s: ", p);
}

void report_prefix_pushf(const char *fmt, ...)
{
	char buf[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	report_prefix_push(buf);
}

void report_prefix_pop(void)
{
	size_t len = strlen(prefix);

	if (len < 2)
		return;
	/* drop the last "name: " */
	len -= 2;
	while (len && !(prefix[len - 1] == ' ' && prefix[len - 2] == ':'))
		len--;
	prefix[len] = '\0';
}

static void vline(const char *tag, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	printf("%s: %s%s\n", tag, prefix, msg);
}

void report(bool pass, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(pass ? "PASS" : "FAIL", fmt, ap);
	va_end(ap);
	if (pass)
		nr_pass++;
	else
		nr_fail++;
}

void report_xfail(bool xfail, bool pass, const char *fmt, ...)
{
	va_list ap;
	const char *tag;

	if (!xfail) {
		tag = pass ? "PASS" : "FAIL";
		pass ? nr_pass++ : nr_fail++;
	} else {
		/* an expected failure that did not happen is news: fail */
		tag = pass ? "XPASS" : "XFAIL";
		pass ? nr_fail++ : nr_xfail++;
	}
	va_start(ap, fmt);
	vline(tag, fmt, ap);
	va_end(ap);
}

void report_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("SKIP", fmt, ap);
	va_end(ap);
	nr_skip++;
}

void report_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("INFO", fmt, ap);
	va_end(ap);
}

unsigned report_failures(void)
{
	return nr_fail;
}

int report_summary(void)
{
	unsigned total = nr_pass + nr_fail + nr_xfail;

	printf("SUMMARY: %u tests, %u unexpected failures, %u expected failures, %u skipped\n",
	       total, nr_fail, nr_xfail, nr_skip);
	if (nr_fail)
		return EXIT_FAIL;
	if (!total && nr_skip)
		return EXIT_SKIP;
	if (!total)
		return EXIT_FAIL;	/* a test that checked nothing has not passed */
	return EXIT_PASS;
}

void exit_guest(int code)
{
	/* isa-debug-exit at 0xf4: QEMU exits with (code << 1) | 1 */
	outl((u32)code, 0xf4);
	/* without the device, stop here */
	for (;;)
		asm volatile("cli; hlt");
}

void panic(const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("FAIL: %spanic: %s\n", prefix, msg);
	nr_fail++;
	report_summary();
	exit_guest(EXIT_FAIL);
}
