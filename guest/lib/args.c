/* Parser for the guest's key=value arguments. Pure C, host-testable. */
#include "args.h"

static size_t slen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static int seq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int args_parse(struct args *a, const char *s)
{
	size_t len = slen(s);
	char *p = a->buf;

	a->count = 0;
	if (len >= sizeof(a->buf))
		return -1;
	for (size_t i = 0; i <= len; i++)
		a->buf[i] = s[i];
	for (;;) {
		char *tok, *eq = NULL;

		while (is_space(*p))
			p++;
		if (!*p)
			return 0;
		if (a->count == ARGS_MAX)
			return -1;
		tok = p;
		for (; *p && !is_space(*p); p++)
			if (*p == '=' && !eq)
				eq = p;
		if (*p)
			*p++ = '\0';
		a->key[a->count] = tok;
		if (eq) {
			*eq = '\0';
			a->val[a->count] = eq + 1;
		} else {
			a->val[a->count] = tok + slen(tok);	/* "" */
		}
		a->count++;
	}
}

const char *args_find(const struct args *a, const char *key)
{
	/* the last occurrence wins, so a runner can override a default */
	for (int i = a->count - 1; i >= 0; i--)
		if (seq(a->key[i], key))
			return a->val[i];
	return NULL;
}
