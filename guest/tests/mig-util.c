/* Shared pieces of the migration tests (groups migration and faults). */
#include "types.h"
#include "string.h"
#include "hostcall.h"
#include "guest/tests/mig-util.h"

#define QOM_PATH "/machine/peripheral/balloon0/virtio-backend"

bool hr_stats(char *r, size_t len)
{
	return hostcall(r, len, 2000, "qmp {\"execute\":\"qom-get\",\"arguments\":{\"path\":\"" QOM_PATH
			"\",\"property\":\"host-req-stats\"}}") == 0;
}

u64 jget(const char *json, const char *key)
{
	u64 v = 0;

	json_get_u64(json, key, &v);
	return v;
}

void mig_status(const char *r, char *st, size_t len)
{
	const char *p = strstr(r, "\"status\":\"");

	st[0] = 0;
	if (!p)
		return;
	p += 10;
	for (size_t i = 0; i + 1 < len && p[i] && p[i] != '"'; i++) {
		st[i] = p[i];
		st[i + 1] = 0;
	}
}
