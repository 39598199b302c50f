/*
 * Memory statistics (virtio 1.2 5.5.6.3): one buffer in statsq at all times,
 * refilled after each use; every standard tag (5.5.6.3 tags 0-9) plus an
 * unknown one the device must ignore and in descending order (5.5.6.3.2);
 * the values reach QMP qom-get guest-stats. Legacy: the device SHOULD ignore
 * the first buffer (5.5.6.3.3).
 */
#include "types.h"
#include "pages.h"
#include "report.h"
#include "args.h"
#include "string.h"
#include "timer.h"
#include "test.h"
#include "hostcall.h"
#include "guest/tests/balloon-util.h"

static struct balloon bal;

static const char *const names[VIRTIO_BALLOON_S_NR] = {
	"stat-swap-in", "stat-swap-out", "stat-major-faults", "stat-minor-faults", "stat-free-memory",
	"stat-total-memory", "stat-available-memory", "stat-disk-caches", "stat-htlb-pgalloc", "stat-htlb-pgfail",
};

static bool get_stats(char *reply, size_t len)
{
	return qmp(reply, len, "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/balloon0\",\"property\":\"guest-stats\"}}") == 0;
}

static void stats_test(void)
{
	struct balloon *b = &bal;
	static char reply[2048];
	u64 v, t0, rounds;
	int ok = 0;

	guard_init(32);
	if (!bt_init(b))
		return;
	if (!b->svq) {
		report(false, "STATS_VQ negotiated");
		return;
	}
	/* what the first buffer (posted at init) did */
	if (get_stats(reply, sizeof(reply))) {
		bool seen = json_get_u64(reply, "stat-swap-in", &v) && v == b->stats_val[0];

		if (b->vd.tp->legacy)
			report_xfail(true, !seen,
				     "legacy: device ignores the first stats buffer (SHOULD, 5.5.6.3.3 Legacy Interface; QEMU 7.2 virtio_balloon_receive_stats takes it)");
		else
			report_info("first buffer's values %s", seen ? "taken by the device" : "not taken");
	}
	/* the device gives the buffer back every interval */
	if (qmp(reply, sizeof(reply), "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"/machine/peripheral/balloon0\",\"property\":\"guest-stats-polling-interval\",\"value\":1}}")) {
		report(false, "QMP qom-set guest-stats-polling-interval");
		return;
	}
	for (int i = 0; i < VIRTIO_BALLOON_S_NR; i++)
		b->stats_val[i] = 0x100000000ull * (i + 1) + 0x1234 + i;
	rounds = b->stats_rounds;
	t0 = now_ns();
	while (b->stats_rounds < rounds + 2 && now_ns() - t0 < 10000000000ull) {
		balloon_stats_poll(b);
		udelay(1000);
	}
	report(b->stats_rounds >= rounds + 2, "device used the stats buffer and the driver posted a new one (%llu rounds)",
	       (unsigned long long)(b->stats_rounds - rounds));
	report(b->svq->num_free == b->svq->num - 1, "exactly one buffer in statsq (5.5.6.3.1)");
	if (!get_stats(reply, sizeof(reply))) {
		report(false, "QMP qom-get guest-stats");
		return;
	}
	for (int i = 0; i < VIRTIO_BALLOON_S_NR; i++) {
		bool good = json_get_u64(reply, names[i], &v) && v == b->stats_val[i];

		ok += good;
		if (!good)
			report_info("%s: got 0x%llx, sent 0x%llx", names[i], (unsigned long long)v,
				    (unsigned long long)b->stats_val[i]);
	}
	report(ok == VIRTIO_BALLOON_S_NR,
	       "all %d standard tags reach QMP guest-stats with the values sent, in any order, unknown tag ignored (5.5.6.3.2)",
	       VIRTIO_BALLOON_S_NR);
	report(json_get_u64(reply, "last-update", &v) && v > 0, "guest-stats last-update set (%llu)", (unsigned long long)v);
	guard_check();
}
GUEST_TEST("balloon-stats", stats_test, "stats vq: values reach QMP guest-stats");
