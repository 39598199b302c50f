/* Helpers for the fast and hostile groups: device statistics, patterns, RAM geometry. */
#include "types.h"
#include "io.h"
#include "pages.h"
#include "string.h"
#include "report.h"
#include "fwcfg.h"
#include "hostcall.h"
#include "guest/tests/balloon-util.h"
#include "guest/tests/fast-util.h"

bool fast_stats_read(struct fast_stats *s)
{
	static char reply[4096];
	static const struct { const char *key; size_t off; } f[] = {
		{ "requests", offsetof(struct fast_stats, requests) },
		{ "records", offsetof(struct fast_stats, records) },
		{ "runs", offsetof(struct fast_stats, runs) },
		{ "pages", offsetof(struct fast_stats, pages) },
		{ "inflated-pages", offsetof(struct fast_stats, inflated) },
		{ "deflated-pages", offsetof(struct fast_stats, deflated) },
		{ "discard-calls", offsetof(struct fast_stats, discard_calls) },
		{ "willneed-calls", offsetof(struct fast_stats, willneed_calls) },
		{ "bad-records", offsetof(struct fast_stats, bad) },
		{ "last-records", offsetof(struct fast_stats, last_records) },
		{ "last-runs", offsetof(struct fast_stats, last_runs) },
		{ "last-pages", offsetof(struct fast_stats, last_pages) },
		{ "last-bad-records", offsetof(struct fast_stats, last_bad) },
	};

	if (qmp(reply, sizeof(reply), "{\"execute\":\"qom-get\",\"arguments\":{\"path\":"
		"\"/machine/peripheral/balloon0/virtio-backend\",\"property\":\"fast-stats\"}}"))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		if (!json_get_u64(reply, f[i].key, (u64 *)((u8 *)s + f[i].off))) {
			report_info("fast-stats has no %s: %s", f[i].key, reply);
			return false;
		}
	return true;
}

/* the fast suite's patterns are the stock suite's (balloon-util.c) */
void fpat_fill(u64 pfn, u64 n, u64 seed)
{
	pattern_fill(pfn, n, seed);
}

u64 fpat_bad(u64 pfn, u64 n, u64 seed)
{
	return pattern_bad(pfn, n, seed);
}

u64 fpat_zero_pages(u64 pfn, u64 n)
{
	u64 z = 0;

	for (u64 p = pfn; p < pfn + n; p++)
		z += pages_zero(p, 1);
	return z;
}

/* q35: below 4 GiB up to 0x80000000 when RAM >= 0xb0000000, else all of it (pc_q35_init) */
u32 fast_ram_map(struct fb_ram *ram, u32 max)
{
	u64 size = ram_bytes(), low = size >= 0xb0000000ull ? 0x80000000ull : size;
	u32 n = 0;

	if (max < 2)
		return 0;
	ram[n++] = (struct fb_ram){ 0, low };
	if (size > low)
		ram[n++] = (struct fb_ram){ 1ull << 32, (1ull << 32) + size - low };
	return n;
}

u64 fast_ram_top(void)
{
	struct fb_ram r[2];
	u32 n = fast_ram_map(r, 2);

	return r[n - 1].end;
}

u32 fast_types(struct balloon *b)
{
	return (virtio_has(&b->vd, FB_F_PAGE_BITMAP) ? 1u << FB_REC_BITMAP : 0) |
	       (virtio_has(&b->vd, FB_F_PAGE_RANGES) ? 1u << FB_REC_RANGES : 0);
}

u64 rec_hdr(void *p, u16 type, u16 shift, u16 flags, u16 reserved, u64 req_id, u64 start, u64 len)
{
	struct fb_hdr *h = p;

	h->type = type;
	h->page_shift = shift;
	h->flags = flags;
	h->reserved = reserved;
	h->req_id = req_id;
	h->start_pfn = start;
	h->len = len;
	return sizeof(*h);
}

u64 rec_range(void *p, u64 start, u64 count)
{
	struct fb_range *e = p;

	e->start_pfn = start;
	e->count = count;
	return sizeof(*e);
}
