/* Line-based requests to the host agent on COM2 (see hostcall.h). */
#include "hostcall.h"
#include "serial.h"
#include "printf.h"
#include "string.h"
#include "timer.h"
#include "io.h"
#include "irq.h"

static int agent_state;	/* 0 unknown, 1 present, -1 absent */
static void (*idle_fn)(void);
static bool in_idle;

void hostcall_set_idle(void (*fn)(void))
{
	idle_fn = fn;
}

/* waiting for a byte: let the caller's idle work run (it may not call us back) */
static void idle(void)
{
	if (idle_fn && !in_idle) {
		in_idle = true;
		idle_fn();
		in_idle = false;
		irq_sleep_us(50);	/* the reply takes the agent ms: leave QEMU the CPU */
	} else {
		cpu_relax();
	}
}

static void send_line(const char *s)
{
	for (; *s; s++)
		serial_putc(COM2, *s);
	serial_putc(COM2, '\n');
}

/* read one line; false on timeout */
static bool recv_line(char *buf, size_t len, u64 timeout_ms)
{
	u64 end = now_ns() + timeout_ms * 1000000ULL;
	size_t n = 0;
	char c;

	while (now_ns() < end) {
		if (!serial_getc(COM2, &c)) {
			idle();
			continue;
		}
		if (c == '\r')
			continue;
		if (c == '\n') {
			buf[n < len ? n : len - 1] = '\0';
			return true;
		}
		if (n + 1 < len)
			buf[n++] = c;
		else
			n++;	/* too long: keep reading to the newline, truncate */
	}
	return false;
}

/*
 * Requests and replies are framed "@fb SEQ ...": the firmware also prints on
 * COM2 during boot, and a reply that comes after its timeout must not be
 * taken for the answer to the next request.
 */
static int call(char *reply, size_t len, u64 timeout_ms, const char *line)
{
	static u32 seq;
	char buf[4096], out[2100], tag[24];
	u64 end = now_ns() + timeout_ms * 1000000ULL;
	char *p;

	seq++;
	snprintf(tag, sizeof(tag), "@fb %u ", seq);
	snprintf(out, sizeof(out), "%s%s", tag, line);
	send_line(out);
	for (;;) {
		u64 now = now_ns();

		if (now >= end || !recv_line(buf, sizeof(buf), (end - now) / 1000000 + 1)) {
			if (reply && len)
				snprintf(reply, len, "no reply from host agent in %llu ms",
					 (unsigned long long)timeout_ms);
			return -2;
		}
		p = strstr(buf, tag);
		if (p)
			break;	/* anything else is noise or a stale reply */
	}
	p += strlen(tag);
	if (!strncmp(p, "ok", 2) && (p[2] == ' ' || !p[2])) {
		if (reply && len)
			snprintf(reply, len, "%s", p[2] ? p + 3 : "");
		return 0;
	}
	if (reply && len)
		snprintf(reply, len, "%s", !strncmp(p, "err ", 4) ? p + 4 : p);
	return -1;
}

bool hostcall_available(void)
{
	char r[128];

	if (!agent_state)
		agent_state = call(r, sizeof(r), 2000, "hello") == 0 &&
			      !strncmp(r, "fastballoon-agent", 17) ? 1 : -1;
	return agent_state > 0;
}

int hostcall(char *reply, size_t len, u64 timeout_ms, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	if (!hostcall_available()) {
		if (reply && len)
			snprintf(reply, len, "no host agent on COM2");
		return -2;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return call(reply, len, timeout_ms, line);
}

bool json_get_u64(const char *json, const char *key, u64 *val)
{
	char pat[80];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	if (!p)
		return false;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	if (*p < '0' || *p > '9')
		return false;
	*val = strtoull(p, NULL, 10);
	return true;
}
