/*
 * Rings and reset, exercised through the balloon:
 *  virtio-ring: many inflate/deflate requests through the negotiated ring
 *    layout (split 2.7 / packed 2.8, indirect 2.7.5.3 / 2.8.19, chains with
 *    sg=1); used length 0 for driver-only buffers (2.7.8.1 device writes len
 *    = bytes written); notification suppression with EVENT_IDX (2.7.7,
 *    2.7.10) or flags; used-buffer interrupts when enabled and none when
 *    suppressed.
 *  virtio-reset: a device reset with requests in flight (2.4 / 4.1.4.3.2):
 *    status reads 0, queues are disabled, and after setting the device up
 *    again it works and nothing was lost.
 * Args: pages=N (default 4096).
 */
#include "types.h"
#include "io.h"
#include "pages.h"
#include "report.h"
#include "args.h"
#include "timer.h"
#include "test.h"
#include <linux/virtio_pci.h>
#include "guest/tests/balloon-util.h"

static struct balloon bal;

static u64 irqs(struct balloon *b)
{
	return b->vd.msix ? b->ivq->irqs + b->dvq->irqs : b->vd.queue_irqs;
}

static void ring_test(void)
{
	struct balloon *b = &bal;
	u64 pages = arg_u64("pages", 4096), got, i0, i1, k0, s0;
	bool haveirq;

	guard_init(64);
	if (!bt_init(b))
		return;
	haveirq = b->vd.msix || b->vd.intx;
	report_info("%s ring, %s, event_idx %s, sg %s", b->ivq->packed ? "packed" : "split",
		    b->ivq->use_indirect ? "indirect" : "direct", b->ivq->event_idx ? "on" : "off",
		    b->o.sg_pages ? "per page" : "one entry");

	/* interrupts on */
	if (!(b->o.brk & BRK_NO_IRQ)) {
		vq_enable_irq(b->ivq);
		vq_enable_irq(b->dvq);
	} else {	/* break=no-irq: the rule broken on purpose */
		vq_disable_irq(b->ivq);
		vq_disable_irq(b->dvq);
	}
	i0 = irqs(b);
	k0 = b->ivq->kicks + b->dvq->kicks;
	s0 = b->ivq->kicks_suppressed + b->dvq->kicks_suppressed;
	got = balloon_inflate(b, pages);
	report(got == pages && b->nr_pages == pages, "%llu pages inflated in %llu requests",
	       (unsigned long long)got, (unsigned long long)b->requests);
	got = balloon_deflate(b, pages);
	report(got == pages && b->nr_pages == 0, "%llu pages deflated", (unsigned long long)got);
	if (b->o.brk & BRK_NO_KICK)	/* the rule broken on purpose: buffers made available, never notified */
		balloon_inflate_nowait(b, 16);
	report(b->ivq->completed == b->ivq->added && b->dvq->completed == b->dvq->added && vq_empty(b->ivq) &&
	       vq_empty(b->dvq), "every buffer came back exactly once (%llu + %llu)",
	       (unsigned long long)b->ivq->completed, (unsigned long long)b->dvq->completed);
	if (b->o.brk & BRK_NO_KICK)
		return;	/* the un-notified buffers stay in the ring: nothing else to check */
	report_info("kicks %llu, suppressed %llu", (unsigned long long)(b->ivq->kicks + b->dvq->kicks - k0),
		    (unsigned long long)(b->ivq->kicks_suppressed + b->dvq->kicks_suppressed - s0));
	if (haveirq) {
		u64 t0 = now_ns();

		while (irqs(b) == i0 && now_ns() - t0 < 1000000000ull)
			cpu_relax();
		i1 = irqs(b);
		report(i1 > i0, "used-buffer notifications arrive while enabled (%llu by %s)",
		       (unsigned long long)(i1 - i0), b->vd.msix ? "MSI-X" : "INTx");
		/* suppressed: the device should not interrupt */
		if (!(b->o.brk & BRK_NO_SUPPRESS)) {
			vq_disable_irq(b->ivq);
			vq_disable_irq(b->dvq);
		} else {	/* break=no-suppress: the rule broken on purpose, notifications re-armed */
			vq_enable_irq(b->ivq);
			vq_enable_irq(b->dvq);
		}
		balloon_inflate(b, pages / 4);
		balloon_deflate(b, pages / 4);
		mdelay(50);
		if (b->ivq->event_idx || b->ivq->packed)
			report(irqs(b) == i1, "no notification while suppressed (%s; %llu seen)",
			       b->ivq->packed ? "packed: flags DISABLE, 2.8.10" :
			       "used_event far ahead, 2.7.10", (unsigned long long)(irqs(b) - i1));
		else
			report(irqs(b) == i1, "no notification with VRING_AVAIL_F_NO_INTERRUPT (SHOULD, 2.7.7.2; %llu seen)",
			       (unsigned long long)(irqs(b) - i1));
	} else {
		report_skip("no interrupt line: notification checks");
	}
	guard_check();
}
GUEST_TEST("virtio-ring", ring_test, "split/packed, indirect, event_idx, notifications");

static void reset_test(void)
{
	struct balloon *b = &bal;
	u64 pages = arg_u64("pages", 2048), queued, got, q = 0, free0;

	guard_init(64);
	if (!bt_init(b))
		return;
	free0 = pool_free_pages(&guest_pool);
	got = balloon_inflate(b, pages);
	report(got == pages, "inflated %llu pages before the reset", (unsigned long long)got);
	queued = balloon_inflate_nowait(b, 1024);
	report(queued > 0 && b->nr_inflight == queued, "%llu more pages queued, not notified", (unsigned long long)queued);

	balloon_reset(b);
	report(virtio_status(&b->vd) == 0, "status reads 0 after reset (2.4.1)");
	if (!b->vd.tp->legacy) {
		volatile u8 *c = b->vd.common;
		bool off = true;

		for (u16 i = 0; i < 3; i++) {
			writew(i, c + VIRTIO_PCI_COMMON_Q_SELECT);
			off &= readw(c + VIRTIO_PCI_COMMON_Q_ENABLE) == 0;
		}
		report(off, "queue_enable reads 0 for every queue after reset (4.1.4.3.2)");
	} else {
		bool off = true;

		for (u16 i = 0; i < 3; i++) {
			outw(i, b->vd.iobase + VIRTIO_PCI_QUEUE_SEL);
			off &= inl(b->vd.iobase + VIRTIO_PCI_QUEUE_PFN) == 0;
		}
		report(off, "queue PFN reads 0 for every queue after reset (legacy)");
	}
	report(b->nr_inflight == 0 && b->nr_pages == pages, "driver voided the unacknowledged requests");
	report(balloon_reinit(b) == 0, "device set up again after the reset");
	balloon_update_actual(b);
	report(qmp_actual_pages(&q) && q == pages, "actual rewritten after reset, QMP shows %llu", (unsigned long long)q);
	got = balloon_inflate(b, 512);
	report(got == 512 && b->nr_pages == pages + 512, "inflate works after the reset");
	got = balloon_deflate(b, pages + 512);
	report(got == pages + 512 && b->nr_pages == 0, "deflate of pages from before and after the reset");
	report(qmp_actual_pages(&q) && q == 0, "QMP query-balloon back to 0");
	report(pool_free_pages(&guest_pool) == free0, "allocator has every page back");
	guard_check();
}
GUEST_TEST("virtio-reset", reset_test, "device reset with requests in flight");
