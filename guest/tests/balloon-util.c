/* Helpers for the conformance tests: guard pages, patterns, QMP. */
#include "types.h"
#include "io.h"
#include "pages.h"
#include "string.h"
#include "printf.h"
#include "report.h"
#include "timer.h"
#include "args.h"
#include "fwcfg.h"
#include "hostcall.h"
#include "guest/tests/balloon-util.h"

#define GUARD_STRIDE 16
#define GUARD_MAX 256

static u64 guard_pfn[GUARD_MAX];
static u64 guard_n, guard_sum;

static u64 mix(u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static u64 page_word(u64 pfn, u64 i, u64 seed) { return mix((pfn << 9) + i + seed * 0x9e3779b97f4a7c15ull) | 1; }

void pattern_fill(u64 pfn, u64 n, u64 seed)
{
	for (u64 p = pfn; p < pfn + n; p++) {
		u64 *w = phys_to_virt(p << PAGE_SHIFT);

		for (u64 i = 0; i < PAGE_SIZE / 8; i++)
			w[i] = page_word(p, i, seed);
	}
}

u64 pattern_bad(u64 pfn, u64 n, u64 seed)
{
	u64 bad = 0;

	for (u64 p = pfn; p < pfn + n; p++) {
		const u64 *w = phys_to_virt(p << PAGE_SHIFT);

		for (u64 i = 0; i < PAGE_SIZE / 8; i++)
			if (w[i] != page_word(p, i, seed)) {
				bad++;
				break;
			}
	}
	return bad;
}

bool pattern_ok(u64 pfn, u64 n, u64 seed)
{
	return pattern_bad(pfn, n, seed) == 0;
}

bool pages_zero(u64 pfn, u64 n)
{
	const u64 *w = phys_to_virt(pfn << PAGE_SHIFT);

	for (u64 i = 0; i < n * PAGE_SIZE / 8; i++)
		if (w[i])
			return false;
	return true;
}

bool pages_hold_u32(u64 pfn, u64 n, u32 v)
{
	const u32 *w = phys_to_virt(pfn << PAGE_SHIFT);

	for (u64 i = 0; i < n * PAGE_SIZE / 4; i++)
		if (w[i] != v)
			return false;
	return true;
}

static u64 guard_sum_now(void)
{
	u64 s = 0;

	for (u64 k = 0; k < guard_n; k++) {
		const u64 *w = phys_to_virt(guard_pfn[k] << PAGE_SHIFT);

		for (u64 i = 0; i < PAGE_SIZE / 8; i++)
			s = mix(s ^ w[i]);
	}
	return s;
}

/* one kept page every GUARD_STRIDE pages, so ballooned runs sit between guards */
void guard_init(u64 npages)
{
	u64 base;

	npages = MIN(npages, GUARD_MAX);
	if (!pool_alloc_run(&guest_pool, npages * GUARD_STRIDE, 1, &base))
		panic("guard: no room for %llu pages", (unsigned long long)npages);
	for (u64 k = 0; k < npages; k++) {
		guard_pfn[k] = base + k * GUARD_STRIDE;
		pattern_fill(guard_pfn[k], 1, 0x6a09e667);
		pool_free_range(&guest_pool, guard_pfn[k] + 1, GUARD_STRIDE - 1);
	}
	guard_n = npages;
	guard_sum = guard_sum_now();
}

void guard_check(void)
{
	u64 bad = 0;

	for (u64 k = 0; k < guard_n; k++)
		if (!pattern_ok(guard_pfn[k], 1, 0x6a09e667))
			bad++;
	report(bad == 0 && guard_sum_now() == guard_sum,
	       "nothing lost: %llu guard pages between ballooned memory keep pattern and checksum (%llu bad)",
	       (unsigned long long)guard_n, (unsigned long long)bad);
}

static const char *tp_name(struct balloon *b) { return b->vd.tp ? b->vd.tp->name : "?"; }

bool bt_init(struct balloon *b)
{
	struct balloon_opts o;
	int r;

	balloon_opts_default(&o);
	balloon_opts_from_args(&o);
	r = balloon_init(b, &o);
	if (r) {
		report(false, "balloon device initialised (error %d, status 0x%x)", r,
		       b->vd.tp ? virtio_status(&b->vd) : 0);
		return false;
	}
	report_info("balloon %02x:%02x.%x via %s (%s): offered 0x%llx negotiated 0x%llx, %s ring, size %u, %s, irq %s, batch %u",
		    b->vd.pci->bus, b->vd.pci->dev, b->vd.pci->fn, tp_name(b), pci_access_method(),
		    (unsigned long long)b->vd.features_offered, (unsigned long long)b->vd.features,
		    b->ivq->packed ? "packed" : "split", b->ivq->num,
		    b->ivq->use_indirect ? "indirect" : "direct", b->vd.msix ? "msix" : b->vd.intx ? "intx" : "none", b->o.batch);
	return true;
}

int qmp(char *reply, size_t len, const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = hostcall(reply, len, 10000, "qmp %s", cmd);
	if (r)
		report_info("qmp %s -> %d %s", cmd, r, reply);
	return r;
}

u64 ram_bytes(void) { return fwcfg_ram_size(); }

bool qmp_set_target_pages(u64 num_pages)
{
	char reply[256];

	return qmp(reply, sizeof(reply), "{\"execute\":\"balloon\",\"arguments\":{\"value\":%llu}}",
		   (unsigned long long)(ram_bytes() - num_pages * PAGE_SIZE)) == 0;
}

bool qmp_actual_pages(u64 *pages)
{
	char reply[256];
	u64 actual;

	if (qmp(reply, sizeof(reply), "{\"execute\":\"query-balloon\"}") ||
	    !json_get_u64(reply, "actual", &actual))
		return false;
	*pages = (ram_bytes() - actual) / PAGE_SIZE;
	return true;
}

bool wait_num_pages(struct balloon *b, u32 want, u64 timeout_ms)
{
	u64 t0 = now_ns();

	while (balloon_num_pages(b) != want) {
		if (now_ns() - t0 > timeout_ms * 1000000ull)
			return false;
		udelay(100);
	}
	return true;
}
