/* Host unit tests of the guest argument parser (guest/lib/args.c). */
#include <string.h>
#include "args.h"
#include "tap.h"

static int is(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

int main(void)
{
	static struct args a;
	char big[2000];

	ok(args_parse(&a, "") == 0 && a.count == 0, "empty string: no arguments");
	ok(args_parse(&a, "test=pages  mem=4G\tflag ") == 0 && a.count == 3, "three arguments split on blanks");
	ok(is(args_find(&a, "test"), "pages") && is(args_find(&a, "mem"), "4G"), "key=value pairs");
	ok(is(args_find(&a, "flag"), ""), "a bare key has an empty value");
	ok(args_find(&a, "missing") == NULL, "a missing key is NULL");
	ok(args_parse(&a, "x=1 x=2") == 0 && is(args_find(&a, "x"), "2"), "the last occurrence wins");
	ok(args_parse(&a, "json={\"a\":1}=b") == 0 && is(args_find(&a, "json"), "{\"a\":1}=b"),
	   "only the first '=' splits");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	ok(args_parse(&a, big) == -1, "an over-long string is refused");
	strcpy(big, "");
	for (int i = 0; i < ARGS_MAX + 1; i++)
		strcat(big, "k ");
	ok(args_parse(&a, big) == -1, "too many arguments are refused");
	return done_testing();
}
