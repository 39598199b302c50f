/*
 * Calls to the host agent (tests/hostagent.py) over the second serial port.
 * One request line out, one reply line back:
 *   guest: "<cmd> <args>\n"   host: "ok <payload>\n" or "err <message>\n"
 * Commands the agent understands (see tests/hostagent.py):
 *   hello                    -> ok fastballoon-agent <version>
 *   time                     -> ok <host CLOCK_MONOTONIC ns>
 *   qmp <json command>       -> ok <json of "return"> | err <json of "error">
 *   sleep <ms>               -> ok   (host-side sleep; the guest keeps running)
 * hostcall() returns 0 on "ok" (payload in reply), -1 on "err" (message in
 * reply), -2 when no agent answered within timeout_ms.
 */
#ifndef GUEST_HOSTCALL_H
#define GUEST_HOSTCALL_H
#include "types.h"

bool hostcall_available(void);	/* true when an agent answered hello */
int hostcall(char *reply, size_t len, u64 timeout_ms, const char *fmt, ...) __printf(4, 5);
/*
 * Work to keep doing while a call waits for its reply (a migration's device
 * requests arrive while the agent is busy with migrate-start); NULL: none.
 * Not called from inside itself.
 */
void hostcall_set_idle(void (*fn)(void));
/* find "key": <unsigned integer> in a JSON text; false if absent */
bool json_get_u64(const char *json, const char *key, u64 *val);
#endif
