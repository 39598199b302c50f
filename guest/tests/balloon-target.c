/*
 * The balloon follows the device (virtio 1.2 5.5.6 "Device Operation"):
 * num_pages follows QMP `balloon` with a configuration change notification,
 * the driver inflates/deflates to it and writes actual (5.5.6.1), which QMP
 * query-balloon shows. Also DEFLATE_ON_OOM (5.5.6.1): pages are taken back
 * while num_pages <= actual only when the feature was negotiated.
 * Args: pages=N (first target, default 2048).
 */
#include "types.h"
#include "io.h"
#include "pages.h"
#include "report.h"
#include "args.h"
#include "timer.h"
#include "test.h"
#include "guest/tests/balloon-util.h"

static struct balloon bal;

static void step(struct balloon *b, u32 target)
{
	u64 changes = b->vd.config_changes, q = 0, t0 = now_ns();
	bool got;

	report_prefix_pushf("target %u", target);
	if (!qmp_set_target_pages(target)) {
		report(false, "QMP balloon accepted");
		report_prefix_pop();
		return;
	}
	got = wait_num_pages(b, target, 5000);
	report(got, "num_pages follows QMP balloon (reads %u after %llu us)", balloon_num_pages(b),
	       (unsigned long long)ns_to_us(now_ns() - t0));
	if (b->vd.msix || b->vd.intx) {
		while (b->vd.config_changes == changes && now_ns() - t0 < 2000000000ull)
			cpu_relax();
		report(b->vd.config_changes > changes, "configuration change notification by %s (%llu so far, ISR bit 1; 4.1.4.5)",
		       b->vd.msix ? "MSI-X" : "INTx", (unsigned long long)b->vd.config_changes);
		if (b->vd.intx)
			report_info("INTx arrived on GSI %d", b->vd.intx_gsi);
	}
	balloon_follow(b);
	report(b->nr_pages == target, "driver moved the balloon to num_pages (%llu pages)",
	       (unsigned long long)b->nr_pages);
	report(balloon_read_actual(b) == target, "actual updated after the acknowledgements (reads %u)",
	       balloon_read_actual(b));
	report(qmp_actual_pages(&q) && q == target, "QMP query-balloon shows actual (%llu pages)",
	       (unsigned long long)q);
	report_prefix_pop();
}

static void balloon_target_test(void)
{
	struct balloon *b = &bal;
	u32 pages = arg_u64("pages", 2048);

	guard_init(64);
	if (!bt_init(b))
		return;
	report(balloon_num_pages(b) == 0 && balloon_read_actual(b) == 0, "fresh device: num_pages 0, actual 0");
	step(b, pages);
	step(b, pages / 2);
	step(b, pages + pages / 4);

	/* out of memory while num_pages == actual */
	{
		u64 before = b->nr_pages, took = balloon_oom_deflate(b, 256), q = 0;
		bool oom = virtio_has(&b->vd, VIRTIO_BALLOON_F_DEFLATE_ON_OOM);

		if (oom)
			report(took == 256 && qmp_actual_pages(&q) && q == before - 256,
			       "DEFLATE_ON_OOM: 256 pages taken back while num_pages <= actual, device acknowledged, QMP shows %llu",
			       (unsigned long long)q);
		else
			report(took == 0 && b->nr_pages == before,
			       "without DEFLATE_ON_OOM no page leaves the balloon while num_pages <= actual (5.5.6.1)");
	}
	step(b, 0);
	report(pool_free_pages(&guest_pool) > 0, "pages back in the allocator");
	guard_check();
}
GUEST_TEST("balloon-target", balloon_target_test, "num_pages follows QMP balloon; actual in query-balloon; DEFLATE_ON_OOM");
