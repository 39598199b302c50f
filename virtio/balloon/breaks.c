/* break=NAME: rules the driver breaks on purpose for the negative entries (see balloon.h). */
#include "types.h"
#include "string.h"
#include "report.h"
#include "virtio/balloon/internal.h"

static const struct { const char *name; u32 bit; } break_names[] = {
	{ "no-actual", BRK_NO_ACTUAL },
	{ "wrong-pfn", BRK_WRONG_PFN },
	{ "reuse-before-ack", BRK_REUSE_BEFORE_ACK },
	{ "no-poison", BRK_NO_POISON },
	{ "stats-len", BRK_STATS_LEN },
	{ "actual-bytes", BRK_ACTUAL_BYTES },
	{ "stats-values", BRK_STATS_VALUES },
	{ "features-ok", BRK_FEATURES_OK },
	{ "config-be", BRK_CONFIG_BE },
	{ "stale-rings", BRK_STALE_RINGS },
	{ "oom", BRK_OOM },
	{ "qnum-negotiated", BRK_QNUM_NEGOTIATED },
	{ "pfn-in-records", BRK_PFN_IN_RECORDS },
	{ "no-hostreq-buf", BRK_NO_HOSTREQ_BUF },
	{ "ranges-not-negotiated", BRK_RANGES_NOT_NEG },
	{ "hint-used", BRK_HINT_USED },
	{ "no-done", BRK_NO_DONE },
	{ "no-poison-val", BRK_NO_POISON_VAL },
	{ "ignore-config", BRK_IGNORE_CONFIG },
	{ "no-suppress", BRK_NO_SUPPRESS },
	{ "no-irq", BRK_NO_IRQ },
	{ "no-kick", BRK_NO_KICK },
	{ "reinflate", BRK_REINFLATE },
};

u32 balloon_parse_break(const char *s)
{
	u32 m = 0;

	while (s && *s) {
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		bool found = false;

		for (size_t i = 0; i < ARRAY_SIZE(break_names); i++)
			if (strlen(break_names[i].name) == len && !strncmp(s, break_names[i].name, len)) {
				m |= break_names[i].bit;
				found = true;
			}
		if (!found)
			panic("unknown break=%.*s", (int)len, s);
		s = e ? e + 1 : NULL;
	}
	return m;
}
