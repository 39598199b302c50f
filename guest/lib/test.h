/*
 * A guest test is a function registered with GUEST_TEST(); the argument
 * test=NAME picks it. It checks through report() and returns; main prints
 * the summary and exits through isa-debug-exit.
 */
#ifndef GUEST_TEST_H
#define GUEST_TEST_H
#include "types.h"

struct guest_test {
	const char *name;
	void (*fn)(void);
	const char *desc;
};

#define GUEST_TEST(tname, tfn, tdesc)					\
	static const struct guest_test __guest_test_##tfn		\
	__attribute__((used, section(".data.tests"), aligned(8))) =	\
		{ .name = (tname), .fn = (tfn), .desc = (tdesc) }

extern const struct guest_test __start_tests[] __attribute__((visibility("hidden")));
extern const struct guest_test __stop_tests[] __attribute__((visibility("hidden")));
#endif
