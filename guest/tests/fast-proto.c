/*
 * The fast protocol on the patched device (docs/protocol.md; group fast):
 *  fast-features: bits 16-18 offered per QEMU property, negotiated per
 *    proto= (FB-D1); queue numbering with host_req_vq/host_resp_vq after
 *    every other queue, counted from offered features (FB-D2, FB-V2); the
 *    20-byte config and discard_granule_shift (FB-V3, FB-V4); a host_req_vq
 *    buffer stays posted (the device has no request) and host_resp_vq
 *    answers are consumed (FB-D9).
 *    Args: expect=MASK (offered bits 0-23), expect_queues=N, expect_hreq=N
 *    (host_req_vq index, -1 = none), expect_granule=N, expect_cfg=20|16.
 *  fast-inflate: records name exactly the pages they should (FB-V6, FB-V7):
 *    a sparse probe set inflated in one request of several records (or
 *    range entries) reads back zero, every neighbour keeps its pattern;
 *    page_shift > 12 (shift=N: 2^N-aligned probe); bulk inflate/deflate from
 *    the allocator in few requests; fast-stats move as the records say;
 *    deflated pages are usable; actual in QMP. Args: pages=N, probe=N.
 */
#include "types.h"
#include "io.h"
#include "pages.h"
#include "string.h"
#include "report.h"
#include "args.h"
#include "timer.h"
#include "test.h"
#include "guest/tests/balloon-util.h"
#include "guest/tests/fast-util.h"

static struct balloon bal;

static void fast_features_test(void)
{
	struct balloon *b = &bal;
	u64 expect = arg_u64("expect", 0x70012), off, neg;
	s64 expect_hreq = (s64)arg_u64("expect_hreq", ~0ull);
	u16 nq = 0;

	if (!bt_init(b))
		return;
	off = b->vd.features_offered;
	neg = b->vd.features;
	report((off & 0xffffff) == expect, "device feature bits offered 0x%llx, expected 0x%llx from the QEMU properties (bits 16-18)",
	       (unsigned long long)(off & 0xffffff), (unsigned long long)expect);
	report(!(neg & ~off), "negotiated 0x%llx is a subset of offered", (unsigned long long)neg);
	report(!(neg & (1ull << FB_F_HOST_REQ)) || (neg & ((1ull << FB_F_PAGE_BITMAP) | (1ull << FB_F_PAGE_RANGES))),
	       "FB-D1: HOST_REQ accepted only together with a record format");
	report(!(virtio_status(&b->vd) & (VIRTIO_CONFIG_S_FAILED | VIRTIO_CONFIG_S_NEEDS_RESET)) &&
	       (virtio_status(&b->vd) & VIRTIO_CONFIG_S_DRIVER_OK),
	       "device accepted the negotiation (status 0x%x)", virtio_status(&b->vd));
	report_info("requests use %s (proto=%s), record mode %s", b->enc->name, balloon_proto_name(b),
		    b->records ? "on" : "off");

	/* queues (FB-V2, FB-D2) */
	for (u16 i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		u16 sz = b->vd.tp->queue_max_size(&b->vd, i);

		if (sz) {
			report_info("queue %u: max size %u", i, sz);
			nq = i + 1;
		}
	}
	if (arg_get("expect_queues"))
		report(nq == arg_u64("expect_queues", 0), "%u queues exist, expected %llu (FB-V2)", nq,
		       (unsigned long long)arg_u64("expect_queues", 0));
	if (expect_hreq >= 0) {
		report(b->qidx_hreq == expect_hreq && b->qidx_hresp == expect_hreq + 1 && nq == expect_hreq + 2,
		       "FB-V2/FB-D2: host_req_vq %d and host_resp_vq %d are the last two queues (expected %lld, %lld)",
		       b->qidx_hreq, b->qidx_hresp, (long long)expect_hreq, (long long)expect_hreq + 1);
	} else {
		report(b->qidx_hreq < 0, "no host_req_vq without HOST_REQ offered");
	}
	if (b->hqvq) {
		u8 *ans = page_alloc();
		struct vq_sg sg = { virt_to_phys(ans), 0, false };
		u64 t0 = now_ns();

		/* FB-D9: buffers stay posted; the device sends no request on its own */
		vq_kick(b->hqvq);
		mdelay(200);
		report(b->hqvq->num_free < b->hqvq->num, "FB-D9: %u device-writable buffers of >= 24 bytes posted on host_req_vq",
		       b->hqvq->num - b->hqvq->num_free);
		report(!vq_has_used(b->hqvq), "host_req_vq buffers stay posted: the device has no request to send (%llu ms)",
		       (unsigned long long)ns_to_us(now_ns() - t0) / 1000);
		/* an answer on host_resp_vq is consumed; the device goes on */
		sg.len = rec_hdr(ans, FB_REC_STATUS, 12, FB_FLAG_DONE, 0, 1, 0, 8) + 8;
		report(balloon_send_raw(b, b->hrvq, &sg, 1, 5000), "a STATUS record on host_resp_vq is used");
		report(!(virtio_status(&b->vd) & VIRTIO_CONFIG_S_NEEDS_RESET), "FB-V15: an answer for no request does not break the device");
		page_free(ans);
	}

	/* config (FB-V3, FB-V4) */
	{
		u32 g = virtio_cread32(&b->vd, FB_CFG_GRANULE), past = virtio_cread32(&b->vd, FB_CFG_SIZE);
		u64 ecfg = arg_u64("expect_cfg", b->fast_offered ? 20 : 16);

		if (ecfg == 20) {
			report(g != 0xffffffff && past == 0xffffffff,
			       "FB-V3: config is 20 bytes (offset 16 reads 0x%x, offset 20 reads 0x%x)", g, past);
			report(g >= 12 && g == arg_u64("expect_granule", 12),
			       "FB-V4: discard_granule_shift %u >= 12, expected %llu (host page size of guest RAM)", g,
			       (unsigned long long)arg_u64("expect_granule", 12));
			virtio_cwrite32(&b->vd, FB_CFG_GRANULE, 0x55);
			report(virtio_cread32(&b->vd, FB_CFG_GRANULE) == g, "FB-V3: a write to discard_granule_shift is ignored");
			balloon_inflate(b, 64);
			balloon_deflate(b, 64);
			report(virtio_cread32(&b->vd, FB_CFG_GRANULE) == g, "FB-V4: discard_granule_shift unchanged while DRIVER_OK");
		} else {
			report(g == 0xffffffff, "FB-V3: nothing offered, config keeps its stock size (offset 16 reads 0x%x)", g);
		}
		report(balloon_read_actual(b) == 0 && balloon_num_pages(b) == 0, "stock fields in place: num_pages 0, actual 0");
	}
}
GUEST_TEST("fast-features", fast_features_test, "fast protocol: feature bits, queues, 20-byte config");

struct st_delta { struct fast_stats a, b; bool ok; };

static void st_begin(struct st_delta *d) { d->ok = fast_stats_read(&d->a); }
static void st_end(struct st_delta *d) { d->ok = d->ok && fast_stats_read(&d->b); }
#define D(d, f) ((d)->b.f - (d)->a.f)

static u64 runs_of(const u64 *pfns, u64 n)
{
	u64 r = 0;

	for (u64 i = 0; i < n; i++)
		if (!i || pfns[i] != pfns[i - 1] + 1)
			r++;
	return r;
}

static void fast_inflate_test(void)
{
	struct balloon *b = &bal;
	u64 pages = arg_u64("pages", 4096), probe = MIN(arg_u64("probe", 512), 4096);
	u16 shift = arg_u64("shift", 12);
	u64 g = 1ull << (shift - 12);	/* 4 KiB pages per named page */
	static u64 pfns[4096 * 2];
	u64 base, span, n = 0, got, q, reqs0;
	struct st_delta d;
	bool pfnproto, ok;

	guard_init(64);
	if (!bt_init(b))
		return;
	pfnproto = b->enc == &balloon_pfn_encoder;
	report(pfnproto || b->records, "requests as %s", b->enc->name);

	/*
	 * Probe set in a patterned area: clusters far apart (several BITMAP
	 * records in one buffer), inside each every other page, pairs, and a
	 * long run; with shift > 12 whole aligned 2^shift blocks.
	 */
	/* relative to the area first, then placed */
	for (u64 c = 0; n < probe; c++) {
		u64 cb = 64 * g + c * (g == 1 ? 1024 : 160) * g;	/* cluster base */

		for (u64 k = 0; k < 64 && n < probe; k++) {
			u64 p = cb + (k < 32 ? 2 * k : 64 + (k - 32) * (k % 3 == 0 ? 1 : 2)) * g;

			if (n && p <= pfns[n - 1])
				continue;
			for (u64 j = 0; j < g && n < ARRAY_SIZE(pfns); j++)
				pfns[n++] = p + j;
		}
	}
	span = ALIGN_UP(pfns[n - 1] + 1 + 64 * g, 512);
	if (!pool_alloc_run(&guest_pool, span, MAX(g, 512), &base))
		panic("no room for the probe area of %llu pages", (unsigned long long)span);
	for (u64 k = 0; k < n; k++)
		pfns[k] += base;
	fpat_fill(base, span, 7);
	report_info("probe: %llu pages in %llu runs over %llu pages at pfn 0x%llx, page_shift %u",
		    (unsigned long long)n, (unsigned long long)runs_of(pfns, n), (unsigned long long)span,
		    (unsigned long long)base, shift);

	reqs0 = b->requests;
	st_begin(&d);
	got = balloon_inflate_pfns(b, pfns, n);
	st_end(&d);
	report(got == n && b->nr_pages == n, "inflate of %llu probe pages acknowledged (%llu requests)",
	       (unsigned long long)n, (unsigned long long)(b->requests - reqs0));
	if (!pfnproto) {
		report(b->requests - reqs0 == 1 && (b->reqs[0].w.records > 1 || shift > 12 || b->enc == &balloon_ranges_encoder),
		       "one buffer for the whole sparse set (%llu records in it)", (unsigned long long)b->reqs[0].w.records);
		if (shift > 12) {
			const struct fb_hdr *h = b->reqs[0].buf;

			report(h->page_shift == shift, "records name pages with page_shift %u", h->page_shift);
		}
	}
	if (d.ok) {
		u64 rec = pfnproto ? n : b->reqs[0].w.records;

		report(D(&d, requests) == b->requests - reqs0 && D(&d, records) == rec && D(&d, bad) == 0,
		       "fast-stats: requests +%llu, records +%llu (expected %llu), bad-records +%llu",
		       (unsigned long long)D(&d, requests), (unsigned long long)D(&d, records),
		       (unsigned long long)rec, (unsigned long long)D(&d, bad));
		report(D(&d, inflated) == n && D(&d, pages) == n, "fast-stats: inflated-pages +%llu, pages +%llu (expected %llu)",
		       (unsigned long long)D(&d, inflated), (unsigned long long)D(&d, pages), (unsigned long long)n);
		if (!pfnproto)
			report(D(&d, runs) == runs_of(pfns, n) && D(&d, discard_calls) == runs_of(pfns, n),
			       "fast-stats: runs +%llu, discard-calls +%llu = runs of the set (%llu, 4 KiB host pages, FB-V8)",
			       (unsigned long long)D(&d, runs), (unsigned long long)D(&d, discard_calls),
			       (unsigned long long)runs_of(pfns, n));
		else
			report(D(&d, discard_calls) >= 1, "fast-stats: discard-calls +%llu", (unsigned long long)D(&d, discard_calls));
	} else {
		report(false, "fast-stats readable with qom-get");
	}
	q = 0;
	ok = qmp_actual_pages(&q);
	report(balloon_read_actual(b) == n && ok && q == n, "actual %u, QMP query-balloon %llu pages",
	       balloon_read_actual(b), (unsigned long long)q);

	/* deflate the probe set back: no page changes (FB-V7), willneed per run */
	st_begin(&d);
	got = balloon_deflate_pfns(b, pfns, n);
	st_end(&d);
	report(got == n && b->nr_pages == 0, "deflate of the probe pages acknowledged");
	if (d.ok)
		report(D(&d, deflated) == n && D(&d, bad) == 0 && (pfnproto || D(&d, willneed_calls) == runs_of(pfns, n)),
		       "fast-stats: deflated-pages +%llu, willneed-calls +%llu, bad-records +%llu",
		       (unsigned long long)D(&d, deflated), (unsigned long long)D(&d, willneed_calls),
		       (unsigned long long)D(&d, bad));
	/* what the host did: named pages zero, every other page of the area kept */
	{
		u64 zero = 0, kept_bad, i = 0, nonnamed = 0, badn = 0;

		for (u64 k = 0; k < n; k++)
			zero += pages_zero(pfns[k], 1);
		for (u64 p = base; p < base + span; p++) {
			if (i < n && pfns[i] == p) {
				i++;
				continue;
			}
			nonnamed++;
			badn += fpat_bad(p, 1, 7);
		}
		kept_bad = badn;
		report(zero == n, "FB-V7: every named page was discarded, reads zero (%llu/%llu)",
		       (unsigned long long)zero, (unsigned long long)n);
		report(kept_bad == 0, "FB-V7: no other page of the area changed (%llu of %llu lost their pattern)",
		       (unsigned long long)kept_bad, (unsigned long long)nonnamed);
	}
	for (u64 k = 0; k < n; k++)
		fpat_fill(pfns[k], 1, 9);
	{
		u64 bad = 0;

		for (u64 k = 0; k < n; k++)
			bad += fpat_bad(pfns[k], 1, 9);
		report(bad == 0, "deflated pages are usable: a written pattern reads back");
	}
	pool_free_range(&guest_pool, base, span);

	/* bulk from the allocator: few requests */
	memset(&b->st, 0, sizeof(b->st));
	reqs0 = b->requests;
	st_begin(&d);
	got = balloon_inflate(b, pages);
	st_end(&d);
	report(got == pages && balloon_read_actual(b) == pages, "bulk inflate of %llu pages: %llu requests, %llu records (%s)",
	       (unsigned long long)pages, (unsigned long long)(b->requests - reqs0), (unsigned long long)b->st.records,
	       b->st.proto);
	if (!pfnproto)
		report(b->requests - reqs0 <= b->st.rounds * b->o.inflight && b->requests - reqs0 <= 2,
		       "fewest requests: %llu for %llu pages", (unsigned long long)(b->requests - reqs0),
		       (unsigned long long)pages);
	if (d.ok)
		report(D(&d, inflated) == pages && D(&d, bad) == 0, "fast-stats: inflated-pages +%llu, bad-records +%llu",
		       (unsigned long long)D(&d, inflated), (unsigned long long)D(&d, bad));
	st_begin(&d);
	got = balloon_deflate(b, pages);
	st_end(&d);
	report(got == pages && b->nr_pages == 0 && balloon_read_actual(b) == 0, "bulk deflate of %llu pages (%llu records)",
	       (unsigned long long)pages, (unsigned long long)b->st.records);
	if (d.ok)
		report(D(&d, deflated) == pages && D(&d, bad) == 0, "fast-stats: deflated-pages +%llu",
		       (unsigned long long)D(&d, deflated));

	/* follow the host's target with records */
	if (qmp_set_target_pages(pages / 2) && wait_num_pages(b, pages / 2, 5000)) {
		balloon_follow(b);
		q = 0;
		ok = qmp_actual_pages(&q);
		report(b->nr_pages == pages / 2 && ok && q == pages / 2,
		       "num_pages from QMP balloon followed (%llu pages, QMP %llu)", (unsigned long long)b->nr_pages,
		       (unsigned long long)q);
		qmp_set_target_pages(0);
		wait_num_pages(b, 0, 5000);
		balloon_follow(b);
		report(b->nr_pages == 0 && balloon_read_actual(b) == 0, "back to 0 (%llu pages in the balloon)",
		       (unsigned long long)b->nr_pages);
	} else {
		report(false, "QMP balloon target reached the device");
	}
	report(!(virtio_status(&b->vd) & VIRTIO_CONFIG_S_NEEDS_RESET), "device status 0x%x: no NEEDS_RESET",
	       virtio_status(&b->vd));
	guard_check();
}
GUEST_TEST("fast-inflate", fast_inflate_test, "fast protocol: records discard exactly the named pages; stats; bulk");
