/*
 * Features, queues and configuration of the balloon, per QEMU property:
 *  virtio-features: offered feature bits (virtio 1.2 5.5.3, 2.2), the
 *    negotiated set, FEATURES_OK read back (3.1.1), VERSION_1 on modern only;
 *    args expect=MASK (device bits 0-23), packed_offered=0/1.
 *  virtio-queues: which queues exist (5.5.2; optional ones only with their
 *    feature, later ones move down); args expect_queues=N.
 *  virtio-config: config layout and endianness (5.5.4, little-endian also
 *    for legacy), actual written with one 32-bit write (5.5.6.2.1),
 *    config_generation changes with num_pages (2.5.1 / 4.1.4.3),
 *    poison_val (5.5.6.6).
 */
#include "types.h"
#include "io.h"
#include "string.h"
#include "pages.h"
#include "report.h"
#include "args.h"
#include "timer.h"
#include "test.h"
#include <linux/virtio_pci.h>
#include "guest/tests/balloon-util.h"

static struct balloon bal;

static void features_test(void)
{
	struct balloon *b = &bal;
	u64 expect = arg_u64("expect", 0x12), off;
	bool modern;
	/* expect_wrong=features-ok: expect FEATURES_OK clear after negotiation (negative entry) */
	bool fok_wrong = arg_get("expect_wrong") && !strcmp(arg_get("expect_wrong"), "features-ok");

	if (!bt_init(b))
		return;
	off = b->vd.features_offered;
	modern = !b->vd.tp->legacy;
	report((off & 0xffffff) == expect, "device feature bits offered: 0x%llx, expected 0x%llx from the QEMU properties",
	       (unsigned long long)(off & 0xffffff), (unsigned long long)expect);
	report_info("MUST_TELL_HOST %s (QEMU 7.2 has no property for it, so V6 of 5.5.3.2 cannot arise)",
		    off & 1 ? "offered" : "not offered");
	report(!!(off & (1ull << VIRTIO_F_VERSION_1)) == modern, "VERSION_1 offered on the %s interface: %s (2.2, 4.1.4)",
	       b->vd.tp->name, off & (1ull << VIRTIO_F_VERSION_1) ? "yes" : "no");
	if (modern && arg_get("packed_offered"))
		report(!!(off & (1ull << VIRTIO_F_RING_PACKED)) == arg_bool("packed_offered", false),
		       "RING_PACKED offered per the packed property (%s)",
		       off & (1ull << VIRTIO_F_RING_PACKED) ? "yes" : "no");
	report(b->vd.features == (off & b->o.features), "negotiated = offered & accepted (0x%llx)",
	       (unsigned long long)b->vd.features);
	if (modern)
		report(!!(virtio_status(&b->vd) & VIRTIO_CONFIG_S_FEATURES_OK) != fok_wrong,
		       "FEATURES_OK read back set after feature negotiation (3.1.1)");
	report((virtio_status(&b->vd) & 0x0f) == (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
						    VIRTIO_CONFIG_S_DRIVER_OK | (modern ? VIRTIO_CONFIG_S_FEATURES_OK : 0)) &&
	       !(virtio_status(&b->vd) & (VIRTIO_CONFIG_S_FAILED | VIRTIO_CONFIG_S_NEEDS_RESET)),
	       "device status 0x%x after DRIVER_OK (2.1)", virtio_status(&b->vd));
	/* a feature the device did not offer is not accepted (2.2.1) */
	report(!(b->vd.features & ~off), "driver accepted no unoffered feature");
}
GUEST_TEST("virtio-features", features_test, "offered/negotiated features per QEMU property");

static void queues_test(void)
{
	struct balloon *b = &bal;
	u64 expect = arg_u64("expect_queues", 3);
	u16 n = 0;

	if (!bt_init(b))
		return;
	for (u16 i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		u16 sz = b->vd.tp->queue_max_size(&b->vd, i);

		if (sz) {
			report_info("queue %u: max size %u", i, sz);
			n = i + 1;
		}
	}
	report(n == expect, "%u queues exist, expected %llu (5.5.2: optional queues move down when absent)",
	       n, (unsigned long long)expect);
	if (!b->vd.tp->legacy)
		report(b->vd.tp->num_queues(&b->vd) == n, "num_queues %u matches (4.1.4.3)",
		       b->vd.tp->num_queues(&b->vd));
	if (b->rvq) {
		/* the reporting queue really is at our index: a reported page gets discarded */
		u64 pfn;

		if (!pool_alloc_run(&guest_pool, 4, 1, &pfn))
			panic("no pages");
		pattern_fill(pfn, 4, 3);
		report(balloon_report(b, pfn + 1, 2) == 0, "reporting_vq at index %d acknowledged", b->qidx_report);
		if (!b->poison || !b->poison_val)
			report(pages_zero(pfn + 1, 2) && pattern_ok(pfn, 1, 3) && pattern_ok(pfn + 3, 1, 3),
			       "reported pages discarded (read zero), neighbours kept: queue %d is reporting_vq",
			       b->qidx_report);
		pool_free_range(&guest_pool, pfn, 4);
	}
}
GUEST_TEST("virtio-queues", queues_test, "queue numbering with optional features off/on");

static void config_test(void)
{
	struct balloon *b = &bal;
	struct virtio_dev *vd = &b->vd;
	const u32 np = 0x10203, act = 0x10405;
	u8 g0 = 0, g1 = 0;
	u64 q = 0;
	/* expect_wrong=generation: expect config_generation unchanged (negative entry) */
	bool gen_wrong = arg_get("expect_wrong") && !strcmp(arg_get("expect_wrong"), "generation");

	if (!bt_init(b))
		return;
	if (!vd->tp->legacy)
		g0 = vd->tp->generation(vd);
	qmp_set_target_pages(np);
	report(wait_num_pages(b, np, 5000), "num_pages 0x%x read as a 32-bit value", balloon_num_pages(b));
	report(virtio_cread8(vd, 0) == 0x03 && virtio_cread8(vd, 1) == 0x02 && virtio_cread8(vd, 2) == 0x01 &&
	       virtio_cread8(vd, 3) == 0x00 && virtio_cread16(vd, 0) == 0x0203 && virtio_cread16(vd, 2) == 0x0001,
	       "num_pages is little-endian at offset 0 (byte and 16-bit reads agree, 5.5.4%s)",
	       vd->tp->legacy ? " legacy: LE too" : "");
	if (!vd->tp->legacy) {
		g1 = vd->tp->generation(vd);
		report((g1 != g0) != gen_wrong, "config_generation changed with num_pages (%u -> %u, 4.1.4.3.1)", g0, g1);
	}
	virtio_cwrite32(vd, 4, act);	/* one 32-bit write (5.5.6.2.1) */
	report(virtio_cread8(vd, 4) == 0x05 && virtio_cread8(vd, 5) == 0x04 && virtio_cread8(vd, 6) == 0x01 &&
	       virtio_cread8(vd, 7) == 0, "actual is little-endian at offset 4");
	report(qmp_actual_pages(&q) && q == act, "QMP query-balloon reads actual 0x%llx", (unsigned long long)q);
	virtio_cwrite32(vd, 4, 0);
	if (b->poison)
		report(virtio_cread32(vd, 12) == b->poison_val, "poison_val at offset 12 reads back 0x%x (5.5.6.6)",
		       virtio_cread32(vd, 12));
	if (vd->features_offered & (1ull << VIRTIO_BALLOON_F_FREE_PAGE_HINT)) {
		u32 id = virtio_cread32(vd, 8);

		virtio_cwrite32(vd, 8, 0x12345678);
		report(virtio_cread32(vd, 8) == id, "free_page_hint_cmd_id is read-only (reads 0x%x, 5.5.4)", id);
	}
	qmp_set_target_pages(0);
}
GUEST_TEST("virtio-config", config_test, "config layout, endianness, generation, poison_val");
