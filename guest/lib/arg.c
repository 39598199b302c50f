/* The guest's own arguments, read from fw_cfg at boot. */
#include "args.h"
#include "string.h"

struct args guest_args;

const char *arg_get(const char *key)
{
	return args_find(&guest_args, key);
}

u64 arg_u64(const char *key, u64 def)
{
	const char *v = arg_get(key);
	char *end;
	u64 n;

	if (!v || !*v)
		return def;
	n = strtoull(v, &end, 0);
	switch (*end) {
	case 'K': case 'k': n <<= 10; break;
	case 'M': case 'm': n <<= 20; break;
	case 'G': case 'g': n <<= 30; break;
	}
	return n;
}

bool arg_bool(const char *key, bool def)
{
	const char *v = arg_get(key);

	if (!v)
		return def;
	if (!*v || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "true"))
		return true;
	return false;
}
