/*
 * Guest arguments: a space-separated list of key=value words (or bare keys)
 * given by the host with -fw_cfg name=opt/fastballoon/args,string=...
 * The parser is pure C and unit-tested on the host.
 */
#ifndef GUEST_ARGS_H
#define GUEST_ARGS_H
#include "types.h"

#define ARGS_MAX 32

struct args {
	int count;
	char *key[ARGS_MAX];
	char *val[ARGS_MAX];	/* "" for a bare key */
	char buf[1024];
};

/* returns 0, or -1 on too many arguments / too long a string */
int args_parse(struct args *a, const char *s);
const char *args_find(const struct args *a, const char *key);

/* Accessors for the guest's own arguments (filled at boot). */
extern struct args guest_args;
const char *arg_get(const char *key);		/* NULL if absent */
u64 arg_u64(const char *key, u64 def);		/* decimal or 0x hex; K/M/G suffixes */
bool arg_bool(const char *key, bool def);	/* bare key, 1/0, yes/no, on/off */
#endif
