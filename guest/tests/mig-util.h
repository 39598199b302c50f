/* Shared pieces of the migration tests (groups migration and faults). */
#ifndef GUEST_TESTS_MIG_UTIL_H
#define GUEST_TESTS_MIG_UTIL_H
#include "types.h"

/*
 * The device's host-req-stats (QMP qom-get) into r. Short timeout: a call
 * made just before the switch-over gets its reply on the source, lost.
 */
bool hr_stats(char *r, size_t len);
/* the number under key in a JSON reply, 0 when absent */
u64 jget(const char *json, const char *key);
/* the status string of a query-migrate reply into st */
void mig_status(const char *r, char *st, size_t len);
#endif
