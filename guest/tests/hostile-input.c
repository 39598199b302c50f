/*
 * Hostile input for the patched device (group hostile, docs/protocol.md
 * FB-V11/FB-V12): records malformed in every way the table lists, then a
 * seeded random mode. The oracle is virtio/fb_records.c's model of the
 * table. After each case (random mode: each batch):
 *  - bad-records (QOM fast-stats) moved by what the table says;
 *  - the device still answers the next valid request (and discards its page);
 *  - every page the guest kept (the target region below the top of RAM, a
 *    fence below it, guard pages elsewhere) holds its pattern, and validly
 *    named pages read zero: nothing outside the named pages was discarded.
 * Named pages only ever lie in the target region or outside RAM; a random
 * buffer the model says would name other RAM is drawn again.
 *
 *  hostile-rows: one case (or more) per table row. Args: none.
 *  hostile-random: count=N requests (default 10000), seed=N (printed),
 *    batch=N requests per check (default 64; 1 pins a failure to a request).
 *  hostile-empty: row 2, a zero-length descriptor (QEMU's virtqueue layer
 *    marks the device broken, as the table's note says); then reset, and
 *    the device works again.
 * Needs -m 3G or more (RAM above 4 GiB, so the top of RAM borders no
 * memory) and the target region free in the allocator.
 */
#include "types.h"
#include "io.h"
#include "pages.h"
#include "string.h"
#include "printf.h"
#include "report.h"
#include "args.h"
#include "timer.h"
#include "test.h"
#include "guest/tests/balloon-util.h"
#include "guest/tests/fast-util.h"

#define REGION 1024	/* pages at the top of RAM the device may be told to discard */
#define FENCE 256	/* pages right below them, never named */
#define SEED_PAT 0x5eed

static struct balloon bal;

static struct {
	struct balloon *b;
	struct fb_ram ram[2];
	struct fb_model m;
	u64 top_pfn, rs;	/* region [rs, top_pfn) */
	u8 named[REGION];	/* validly named on inflateq since the last restore */
	u64 outside;		/* model named RAM outside the region (generator bug guard) */
	bool inflating;
	u8 *scratch;		/* writable descriptor target */
	u64 fails;
} H;

static void named_cb(u64 pfn, u64 n, void *ctx)
{
	(void)ctx;
	for (u64 p = pfn; p < pfn + n; p++) {
		if (p >= H.rs && p < H.top_pfn) {
			if (H.inflating)
				H.named[p - H.rs] = 1;
		} else {
			H.outside++;
		}
	}
}

static bool hostile_setup(void)
{
	struct balloon *b = &bal;
	u64 lo;

	guard_init(64);
	if (!bt_init(b))
		return false;
	H.b = b;
	H.m.nram = fast_ram_map(H.ram, 2);
	H.m.ram = H.ram;
	H.m.types = fast_types(b);
	H.top_pfn = fast_ram_top() >> PAGE_SHIFT;
	H.rs = H.top_pfn - REGION;
	lo = H.rs - FENCE;
	if (H.m.nram < 2 || !b->records) {
		report_skip("needs RAM above 4 GiB (-m 3G) and a record format (nram %u, records %d)", H.m.nram, b->records);
		return false;
	}
	for (u64 p = lo; p < H.top_pfn; p++)
		if (!pool_page_is_free(&guest_pool, p)) {
			report(false, "target region [0x%llx, 0x%llx) free in the allocator (pfn 0x%llx is not)",
			       (unsigned long long)lo, (unsigned long long)H.top_pfn, (unsigned long long)p);
			return false;
		}
	pool_reserve_range(&guest_pool, lo, H.top_pfn - lo);
	fpat_fill(lo, H.top_pfn - lo, SEED_PAT);
	H.scratch = page_alloc();
	report_info("target region: pfn 0x%llx..0x%llx (top of RAM 0x%llx), fence of %u pages below; record types 0x%x",
		    (unsigned long long)H.rs, (unsigned long long)H.top_pfn, (unsigned long long)(H.top_pfn << 12),
		    FENCE, H.m.types);
	return true;
}

/* model a buffer; false if it would name RAM outside the region */
static bool model(const struct fb_seg *segs, u32 n, bool inflate, struct fb_verdict *v)
{
	u64 before = H.outside;

	H.inflating = false;	/* first a dry run */
	fb_model_buffer(&H.m, segs, n, named_cb, NULL, v);
	if (H.outside != before) {
		H.outside = before;
		return false;
	}
	H.inflating = inflate;
	fb_model_buffer(&H.m, segs, n, named_cb, NULL, v);
	return true;
}

static void to_sg(const struct fb_seg *segs, u32 n, struct vq_sg *sg)
{
	for (u32 i = 0; i < n; i++) {
		sg[i].addr = virt_to_phys((void *)segs[i].addr);
		sg[i].len = segs[i].len;
		sg[i].write = segs[i].write;
	}
}

/* a valid request names page p on inflateq: it must be used and p discarded */
static bool valid_request(u64 p)
{
	static u8 buf[64] __attribute__((aligned(64)));
	u16 type = (H.m.types & (1u << FB_REC_RANGES)) ? FB_REC_RANGES : FB_REC_BITMAP;
	struct fb_seg seg = { buf, 0, false };
	struct vq_sg sg;
	struct fb_verdict v;
	bool ok;

	memset(buf, 0, sizeof(buf));
	if (type == FB_REC_RANGES) {
		seg.len = rec_hdr(buf, type, 12, 0, 0, 0, 0, 16);
		seg.len += rec_range(buf + 32, p, 1);
	} else {
		seg.len = rec_hdr(buf, type, 12, 0, 0, 0, ALIGN_DOWN(p, 64), 8) + 8;
		*(u64 *)(buf + 32) = 1ull << (p & 63);
	}
	model(&seg, 1, true, &v);
	to_sg(&seg, 1, &sg);
	ok = balloon_send_raw(H.b, H.b->ivq, &sg, 1, 5000);
	return ok && pages_zero(p, 1) && v.bad == 0;
}

/* put back every named page: deflate them (valid records), then the pattern again */
static void restore(void)
{
	static u8 buf[REGION * 16 + 64] __attribute__((aligned(4096)));
	struct fb_writer w;
	bool ranges = H.m.types & (1u << FB_REC_RANGES);
	struct vq_sg sg;

	fb_writer_init(&w, buf, sizeof(buf));
	for (u64 i = 0; i < REGION; i++)
		if (H.named[i])
			ranges ? fb_add_ranges(&w, H.rs + i, 1, 12) : fb_add_bitmap(&w, H.rs + i, 1, 12);
	if (w.len) {
		sg.addr = virt_to_phys(buf);
		sg.len = w.len;
		sg.write = false;
		if (!balloon_send_raw(H.b, H.b->dvq, &sg, 1, 5000))
			panic("hostile: deflate of named pages not used");
	}
	for (u64 i = 0; i < REGION; i++)
		if (H.named[i]) {
			fpat_fill(H.rs + i, 1, SEED_PAT);
			H.named[i] = 0;
		}
}

/* every kept page holds its pattern; returns lost pages; counts named pages that read zero */
static u64 kept_lost(u64 *named, u64 *zero)
{
	u64 lost = fpat_bad(H.rs - FENCE, FENCE, SEED_PAT);

	*named = *zero = 0;
	for (u64 i = 0; i < REGION; i++) {
		if (H.named[i]) {
			(*named)++;
			*zero += pages_zero(H.rs + i, 1);
		} else {
			lost += fpat_bad(H.rs + i, 1, SEED_PAT);
		}
	}
	return lost;
}

/* ---- the table, case by case ---- */

struct hcase {
	const char *name;
	unsigned row;		/* table row exercised (0: valid input) */
	s64 bad;		/* bad-records it must add with both formats negotiated, -1: per model */
	int valid_zero;		/* the valid record after it is processed (page V discarded): 1, 0, -1 n/a */
};

static u64 V(void) { return H.rs + 16; }
static u64 C(void) { return H.rs + 600; }	/* canary: named only by malformed records */

/* builds case k into buf/segs; returns number of segments, 0 at the end */
static u32 build_case(u32 k, struct hcase *c, u8 *buf, struct fb_seg *s)
{
	u64 n = 0;
	u16 RG = FB_REC_RANGES, BM = FB_REC_BITMAP;
	u64 top = H.top_pfn;

	memset(buf, 0, 4096);
#define VALID_AFTER() do { n += rec_hdr(buf + n, RG, 12, 0, 0, 0, 0, 16); n += rec_range(buf + n, V(), 1); } while (0)
#define CASE(nm, r, b, vz) do { c->name = nm; c->row = r; c->bad = b; c->valid_zero = vz; } while (0)
	s[0].addr = buf;
	s[0].write = false;
	switch (k) {
	case 0:	CASE("row 1: a valid record plus a device-writable descriptor: whole buffer ignored", 1, 1, 0);
		VALID_AFTER();
		s[0].len = n;
		s[1].addr = H.scratch;
		s[1].len = 64;
		s[1].write = true;
		return 2;
	case 1:	CASE("row 1: only a device-writable descriptor", 1, 1, -1);
		s[0].addr = H.scratch;
		s[0].len = 64;
		s[0].write = true;
		return 1;
	case 2:	CASE("row 3: 20 bytes after a valid record (truncated header): rest ignored", 3, 1, 1);
		VALID_AFTER();
		n += 20;
		break;
	case 3:	CASE("row 3: a 31-byte buffer", 3, 1, -1);
		rec_hdr(buf, RG, 12, 0, 0, 0, 0, 0);
		n = 31;
		break;
	case 4:	CASE("row 4: len past the buffer after a valid record: record rejected, nothing after it read", 4, 1, 1);
		VALID_AFTER();
		n += rec_hdr(buf + n, RG, 12, 0, 0, 0, 0, 4096);
		n += rec_range(buf + n, C(), 1);
		break;
	case 5:	CASE("row 5: unknown type 7, skipped by len", 5, 1, 1);
		n += rec_hdr(buf + n, 7, 12, 0, 0, 0, 0, 16);
		n += rec_range(buf + n, C(), 1);
		VALID_AFTER();
		break;
	case 6:	CASE("row 5: STATUS on inflateq", 5, 1, 1);
		n += rec_hdr(buf + n, FB_REC_STATUS, 12, 0, 0, 0, 0, 8);
		n += 8;
		VALID_AFTER();
		break;
	case 7:	CASE("row 5: type 0", 5, 1, 1);
		n += rec_hdr(buf + n, 0, 12, 0, 0, 0, 0, 16);
		n += rec_range(buf + n, C(), 1);
		VALID_AFTER();
		break;
	case 8:	CASE("row 5 (when only RANGES is negotiated): BITMAP naming the canary", 5, 0, 1);
		n += rec_hdr(buf + n, BM, 12, 0, 0, 0, ALIGN_DOWN(C(), 64), 8);
		*(u64 *)(buf + n) = 1ull << (C() & 63);
		n += 8;
		VALID_AFTER();
		break;
	case 9:	CASE("row 6: reserved non-zero", 6, 1, 1);
		n += rec_hdr(buf + n, RG, 12, 0, 1, 0, 0, 16);
		n += rec_range(buf + n, C(), 1);
		VALID_AFTER();
		break;
	case 10: CASE("row 6: flags non-zero on inflateq", 6, 1, 1);
		n += rec_hdr(buf + n, RG, 12, FB_FLAG_DONE, 0, 0, 0, 16);
		n += rec_range(buf + n, C(), 1);
		VALID_AFTER();
		break;
	case 11: CASE("row 6: req_id non-zero on inflateq", 6, 1, 1);
		n += rec_hdr(buf + n, RG, 12, 0, 0, 42, 0, 16);
		n += rec_range(buf + n, C(), 1);
		VALID_AFTER();
		break;
	case 12: CASE("row 6: RANGES with start_pfn non-zero", 6, 1, 1);
		n += rec_hdr(buf + n, RG, 12, 0, 0, 0, C(), 16);
		n += rec_range(buf + n, C(), 1);
		VALID_AFTER();
		break;
	case 13: CASE("row 7: page_shift 11", 7, 1, 1);
		n += rec_hdr(buf + n, RG, 11, 0, 0, 0, 0, 16);
		n += rec_range(buf + n, C() * 2, 2);
		VALID_AFTER();
		break;
	case 14: CASE("row 7: page_shift 31", 7, 1, 1);
		n += rec_hdr(buf + n, RG, 31, 0, 0, 0, 0, 16);
		n += rec_range(buf + n, 2, 1);
		VALID_AFTER();
		break;
	case 15: CASE("row 8: BITMAP len 12", 8, 1, 1);
		n += rec_hdr(buf + n, BM, 12, 0, 0, 0, ALIGN_DOWN(C(), 64), 12);
		*(u64 *)(buf + n) = 1ull << (C() & 63);
		n += 12;
		VALID_AFTER();
		break;
	case 16: CASE("row 8: RANGES len 24", 8, 1, 1);
		n += rec_hdr(buf + n, RG, 12, 0, 0, 0, 0, 24);
		n += rec_range(buf + n, C(), 1);
		n += 8;
		VALID_AFTER();
		break;
	case 17: CASE("row 9: BITMAP past 2^64 pages", 9, 1, 1);
		n += rec_hdr(buf + n, BM, 12, 0, 0, 0, ~0ull - 63, 16);
		*(u64 *)(buf + n) = ~0ull;
		n += 16;
		VALID_AFTER();
		break;
	case 18: CASE("row 9: BITMAP whose byte address passes 2^64 (page_shift 30)", 9, 1, 1);
		n += rec_hdr(buf + n, BM, 30, 0, 0, 0, (1ull << 34) - 32, 8);
		*(u64 *)(buf + n) = 1;
		n += 8;
		VALID_AFTER();
		break;
	case 19: CASE("row 10: RANGES entry with count 0, next entry processed", 10, 1, 1);
		n += rec_hdr(buf + n, RG, 12, 0, 0, 0, 0, 32);
		n += rec_range(buf + n, C(), 0);
		n += rec_range(buf + n, V(), 1);
		break;
	case 20: CASE("row 11: RANGES entry past 2^64 pages, next entry processed", 11, 1, 1);
		n += rec_hdr(buf + n, RG, 12, 0, 0, 0, 0, 32);
		n += rec_range(buf + n, ~0ull - 1, 5);
		n += rec_range(buf + n, V(), 1);
		break;
	case 21: CASE("row 11: RANGES entry whose byte address passes 2^64 (page_shift 30)", 11, 1, 1);
		n += rec_hdr(buf + n, RG, 30, 0, 0, 0, 0, 16);
		n += rec_range(buf + n, (1ull << 34) - 1, 2);
		VALID_AFTER();
		break;
	case 22: CASE("row 12: RANGES entry far beyond RAM", 12, 1, 1);
		n += rec_hdr(buf + n, RG, 12, 0, 0, 0, 0, 32);
		n += rec_range(buf + n, 1ull << 30, 4);
		n += rec_range(buf + n, V(), 1);
		break;
	case 23: CASE("row 12: RANGES entry over the top of RAM: the 2 pages inside processed", 12, 1, 1);
		n += rec_hdr(buf + n, RG, 12, 0, 0, 0, 0, 32);
		n += rec_range(buf + n, top - 2, 4);
		n += rec_range(buf + n, V(), 1);
		break;
	case 24: CASE("row 12: BITMAP over the top of RAM: counted once per record", 12, 1, 1);
		n += rec_hdr(buf + n, BM, 12, 0, 0, 0, top - 64, 16);
		*(u64 *)(buf + n) = 3ull << 62;
		*(u64 *)(buf + n + 8) = 0xf;
		n += 16;
		VALID_AFTER();
		break;
	case 25: CASE("row 12: RANGES entry on MMIO (local APIC page)", 12, 1, 1);
		n += rec_hdr(buf + n, RG, 12, 0, 0, 0, 0, 32);
		n += rec_range(buf + n, 0xfee00, 1);
		n += rec_range(buf + n, V(), 1);
		break;
	case 26: CASE("row 12: RANGES entry on ROM (the flash at 4 GiB - 256 KiB)", 12, 1, 1);
		n += rec_hdr(buf + n, RG, 12, 0, 0, 0, 0, 32);
		n += rec_range(buf + n, 0xfffc0, 4);
		n += rec_range(buf + n, V(), 1);
		break;
	case 27: CASE("valid: a record spread over 3 descriptors at odd offsets", 0, 0, 1);
		VALID_AFTER();
		s[0].len = 7;
		s[1] = (struct fb_seg){ buf + 7, 30, false };
		s[2] = (struct fb_seg){ buf + 37, n - 37, false };
		return 3;
	case 28: CASE("valid: an empty BITMAP record and a RANGES record with len 0 name nothing", 0, 0, 1);
		n += rec_hdr(buf + n, BM, 12, 0, 0, 0, ALIGN_DOWN(C(), 64), 8);
		n += 8;
		n += rec_hdr(buf + n, RG, 12, 0, 0, 0, 0, 0);
		VALID_AFTER();
		break;
	case 29: CASE("row 9: an empty BITMAP ending exactly at 2^64 (end address does not fit 64 bits; see conformance.md)", 9, 1, 1);
		n += rec_hdr(buf + n, BM, 30, 0, 0, 0, (1ull << 34) - 64, 8);
		n += 8;
		VALID_AFTER();
		break;
	case 30: CASE("row 5 after row 6 after row 7: three bad records, then a valid one", 5, 3, 1);
		n += rec_hdr(buf + n, 9, 12, 0, 0, 0, 0, 0);
		n += rec_hdr(buf + n, RG, 12, 0, 3, 0, 0, 0);
		n += rec_hdr(buf + n, RG, 40, 0, 0, 0, 0, 0);
		VALID_AFTER();
		break;
	default:
		return 0;
	}
#undef VALID_AFTER
#undef CASE
	s[0].len = n;
	return 1;
}

static void hostile_rows_test(void)
{
	static u8 buf[4096] __attribute__((aligned(4096)));
	struct fb_seg segs[4];
	struct hcase c;
	u32 rows = 0;
	bool both;

	if (!hostile_setup())
		return;
	both = H.m.types == ((1u << FB_REC_BITMAP) | (1u << FB_REC_RANGES));
	for (u32 k = 0;; k++) {
		u32 nseg = build_case(k, &c, buf, segs);
		struct fast_stats s0, s1;
		struct fb_verdict v;
		struct vq_sg sg[4];
		u64 named, zero, lost;
		bool used, st;

		if (!nseg)
			break;
		report_prefix_pushf("case %u", k);
		if (!model(segs, nseg, true, &v))
			panic("hostile: case %u names RAM outside the target region", k);
		if (both && c.bad >= 0 && (s64)v.bad != c.bad)
			report(false, "model agrees with the case table: %llu bad, table says %lld (test bug)",
			       (unsigned long long)v.bad, (long long)c.bad);
		if (c.row && !(v.rows & (1u << c.row)))
			report_info("row %u does not apply here (record types 0x%x)", c.row, H.m.types);
		rows |= v.rows;
		st = fast_stats_read(&s0);
		to_sg(segs, nseg, sg);
		used = balloon_send_raw(H.b, H.b->ivq, sg, nseg, 5000);
		st = st && fast_stats_read(&s1);
		report(used && !(virtio_status(&H.b->vd) & VIRTIO_CONFIG_S_NEEDS_RESET),
		       "%s: buffer used, no NEEDS_RESET (FB-V11)", c.name);
		report(st && s1.bad - s0.bad == v.bad, "bad-records +%llu, expected +%llu",
		       (unsigned long long)(s1.bad - s0.bad), (unsigned long long)v.bad);
		lost = kept_lost(&named, &zero);
		report(lost == 0, "no kept page changed (%llu lost; FB-V7)", (unsigned long long)lost);
		if (c.valid_zero >= 0 && v.rows != (1u << 1))
			report(zero == named && (named > 0) == (c.valid_zero > 0),
			       "pages the valid part names read zero (%llu/%llu)", (unsigned long long)zero,
			       (unsigned long long)named);
		else
			report(zero == named, "validly named pages read zero (%llu/%llu)", (unsigned long long)zero,
			       (unsigned long long)named);
		report(valid_request(H.rs + 900), "the device answers the next valid request");
		restore();
		report_prefix_pop();
	}
	report_info("table rows exercised: 0x%x", rows);
	{
		u64 named, zero;

		report(kept_lost(&named, &zero) == 0 && named == 0, "target region and fence restored");
	}
	guard_check();
}
GUEST_TEST("hostile-rows", hostile_rows_test, "malformed records: every row of the FB-V12 table");

/* ---- seeded random requests ---- */

static u64 rs_state;
static u64 rnd(void)
{
	u64 x = rs_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rs_state = x;
}
static u64 rndn(u64 n) { return n ? rnd() % n : 0; }
static bool pct(u32 p) { return rndn(100) < p; }

/* a page (units of 2^shift) where the generator may point */
static u64 target(u16 shift, u32 kind)
{
	u64 rs = (H.rs << 12) >> shift, te = (H.top_pfn << 12) >> shift;

	if (shift > 22 && kind < 2)
		kind = 2;	/* a big page in the region would reach below it */
	switch (kind) {
	case 0:		/* in the region */
		return rs + rndn(te - rs + 1);
	case 1:		/* just below the top */
		return te - 1 - rndn(4);
	case 2:		/* beyond RAM */
		return te + 1 + rndn(1ull << (shift < 40 ? 40 - MIN(shift, 39) : 1));
	default:	/* near 2^64 */
		return (shift < 64 ? (1ull << (63 - MIN(shift, 63))) * 2 : 0) - rndn(130);
	}
}

static u32 pick_kind(void)
{
	u32 r = rndn(100);

	return r < 65 ? 0 : r < 80 ? 1 : r < 92 ? 2 : 3;
}

static u16 pick_shift(void)
{
	u32 r = rndn(100);

	return r < 75 ? 12 : r < 88 ? 13 + rndn(10) : r < 94 ? 23 + rndn(8) : rndn(70);
}

static u64 gen_record(u8 *p, u64 room)
{
	u16 type, shift = pick_shift(), flags = 0, res = 0;
	u64 req = 0, start = 0, len = 0, n = 32;
	u32 r = rndn(100), kind = pick_kind();

	if (room < 32)
		return 0;
	type = r < 45 ? FB_REC_RANGES : r < 88 ? FB_REC_BITMAP : r < 94 ? FB_REC_STATUS : rndn(65536);
	if (pct(4)) flags = rnd();
	if (pct(4)) res = rnd();
	if (pct(4)) req = rnd();
	if (type == FB_REC_BITMAP || (type != FB_REC_RANGES && pct(50))) {
		u64 words = 1 + rndn(8);

		start = target(shift, kind);
		if (kind < 2 && pct(80))
			start = ALIGN_DOWN(start, 64);
		len = words * 8;
		for (u64 i = 0; i < words && n + 8 <= room; i++, n += 8) {
			u32 d = rndn(4);

			*(u64 *)(p + n) = d == 0 ? 0 : d == 1 ? ~0ull : d == 2 ? rnd() : rnd() & rnd() & rnd();
		}
		if (pct(6))
			len += 1 + rndn(7);	/* row 8 */
	} else {
		u64 entries = rndn(7);

		if (pct(4))
			start = 1 + rndn(1000);	/* row 6 */
		len = entries * 16;
		for (u64 i = 0; i < entries && n + 16 <= room; i++, n += 16) {
			u32 ek = pct(70) ? kind : pick_kind();
			u64 s = target(shift, ek), c = pct(5) ? 0 : pct(5) ? rnd() : 1 + rndn(pct(80) ? 8 : 300);

			rec_range(p + n, s, c);
		}
		if (pct(6))
			len += 1 + rndn(15);	/* row 8 */
	}
	if (pct(3))
		len = rnd() >> rndn(64);	/* row 4, or a misread */
	rec_hdr(p, type, shift, flags, res, req, start, len);
	/* the payload written is what len says, as far as room allows */
	n = MIN(32 + len, room);
	return n;
}

/* one random buffer: records, sometimes truncated, split over descriptors */
static u32 gen_buffer(u8 *buf, u64 cap, struct fb_seg *s, bool *inflate)
{
	u64 n = 0, nrec = 1 + rndn(4);
	u32 nseg = 1;

	memset(buf, 0, cap);
	for (u64 i = 0; i < nrec && n < cap; i++) {
		u64 t = gen_record(buf + n, cap - n);

		if (!t)
			break;
		n += t;
	}
	if (pct(5) && n > 1)
		n = 1 + rndn(n - 1);	/* rows 3 and 4 */
	if (!n)
		n = 1 + rndn(31);
	s[0] = (struct fb_seg){ buf, n, false };
	if (n > 2 && pct(30)) {	/* spread over 2-3 descriptors */
		u64 a = 1 + rndn(n - 1);

		s[0].len = a;
		s[1] = (struct fb_seg){ buf + a, n - a, false };
		nseg = 2;
		if (n - a > 1 && pct(50)) {
			u64 b2 = 1 + rndn(n - a - 1);

			s[1].len = b2;
			s[2] = (struct fb_seg){ buf + a + b2, n - a - b2, false };
			nseg = 3;
		}
	}
	if (pct(3)) {	/* row 1 */
		s[nseg] = (struct fb_seg){ H.scratch, 8 + rndn(64), true };
		nseg++;
	}
	*inflate = pct(75);
	return nseg;
}

#define SLOT 512
#define MAX_BATCH 64

static void hostile_random_test(void)
{
	static u8 bufs[MAX_BATCH][SLOT] __attribute__((aligned(4096)));
	u64 count = arg_u64("count", 10000), seed = arg_u64("seed", 0), batch = MIN(MAX(arg_u64("batch", 64), 1), MAX_BATCH);
	u64 sent = 0, redraws = 0, bad_total = 0, nb = 0, t0, named_total = 0, zero_total = 0;
	u64 f_used = 0, f_bad = 0, f_lost = 0, f_valid = 0, f_reset = 0, f_zero = 0;
	u32 rows = 0;

	if (!seed)
		seed = rdtsc() | 1;
	rs_state = seed;
	printf("hostile-random: seed=%llu count=%llu batch=%llu (replay: seed=%llu)\n", (unsigned long long)seed,
	       (unsigned long long)count, (unsigned long long)batch, (unsigned long long)seed);
	report_info("seed=%llu", (unsigned long long)seed);
	if (!hostile_setup())
		return;
	t0 = now_ns();
	while (sent < count) {
		struct fast_stats s0, s1;
		u64 want_bad = 0, k, named, zero, lost, first = sent;
		u32 nq = 0;
		bool st = fast_stats_read(&s0);

		for (k = 0; k < batch && sent < count; k++, sent++) {
			struct fb_seg segs[4];
			struct vq_sg sg[4];
			struct fb_verdict v;
			bool inflate;
			u32 nseg;

			for (;;) {
				nseg = gen_buffer(bufs[k], SLOT, segs, &inflate);
				if (model(segs, nseg, inflate, &v))
					break;
				redraws++;
			}
			want_bad += v.bad;
			rows |= v.rows;
			to_sg(segs, nseg, sg);
			if (vq_add(inflate ? H.b->ivq : H.b->dvq, sg, nseg, bufs[k]))
				panic("hostile: queue full");
			nq++;
		}
		vq_kick(H.b->ivq);
		vq_kick(H.b->dvq);
		{
			u64 tw = now_ns();
			u32 len;

			while (nq && now_ns() - tw < 10000000000ull) {
				while (nq && (vq_get_used(H.b->ivq, &len) || vq_get_used(H.b->dvq, &len)))
					nq--;
			}
		}
		st = st && fast_stats_read(&s1);
		bad_total += want_bad;
		lost = kept_lost(&named, &zero);
		named_total += named;
		zero_total += zero;
		if (nq)
			f_used++;
		if (!st || s1.bad - s0.bad != want_bad)
			f_bad++;
		if (lost)
			f_lost++;
		if (zero != named)
			f_zero++;
		if (virtio_status(&H.b->vd) & VIRTIO_CONFIG_S_NEEDS_RESET)
			f_reset++;
		if (!valid_request(H.rs + rndn(REGION)))
			f_valid++;
		if ((nq || !st || s1.bad - s0.bad != want_bad || lost || zero != named) && f_used + f_bad + f_lost + f_zero < 5)
			report_info("batch %llu (requests %llu..%llu): %u not used, bad-records +%llu expected +%llu, %llu kept pages lost, %llu/%llu named read zero",
				    (unsigned long long)nb, (unsigned long long)first, (unsigned long long)sent - 1, nq,
				    (unsigned long long)(st ? s1.bad - s0.bad : 0), (unsigned long long)want_bad,
				    (unsigned long long)lost, (unsigned long long)zero, (unsigned long long)named);
		restore();
		nb++;
		if (nq)
			break;	/* the queue is stuck: nothing more to learn */
	}
	report_info("%llu requests in %llu batches in %llu ms; model: %llu bad records, %llu pages validly named (%llu read zero), %llu redraws, rows 0x%x",
		    (unsigned long long)sent, (unsigned long long)nb, (unsigned long long)(now_ns() - t0) / 1000000,
		    (unsigned long long)bad_total, (unsigned long long)named_total, (unsigned long long)zero_total,
		    (unsigned long long)redraws, rows);
	report(sent >= count && f_used == 0, "%llu random requests sent, every buffer used (seed=%llu)",
	       (unsigned long long)sent, (unsigned long long)seed);
	report(f_reset == 0, "no NEEDS_RESET after any batch (FB-V11)");
	report(f_bad == 0, "bad-records moved as the table says in every batch (%llu of %llu batches differ)",
	       (unsigned long long)f_bad, (unsigned long long)nb);
	report(f_lost == 0, "no kept page changed in any batch (%llu batches lost pages; FB-V7)", (unsigned long long)f_lost);
	report(f_zero == 0, "validly named pages read zero in every batch (%llu batches differ)", (unsigned long long)f_zero);
	report(f_valid == 0, "the device answered the valid request after every batch (%llu failed)", (unsigned long long)f_valid);
	guard_check();
}
GUEST_TEST("hostile-random", hostile_random_test, "seeded random (mostly invalid) requests; seed=N replays");

/* row 2: a zero-length descriptor */
static void hostile_empty_test(void)
{
	struct fast_stats s0, s1;
	struct vq_sg sg = { 0, 0, false };
	bool used, st, broken;

	if (!hostile_setup())
		return;
	sg.addr = virt_to_phys(H.scratch);
	st = fast_stats_read(&s0);
	used = balloon_send_raw(H.b, H.b->ivq, &sg, 1, 2000);
	broken = virtio_status(&H.b->vd) & VIRTIO_CONFIG_S_NEEDS_RESET;
	st = st && fast_stats_read(&s1);
	report_xfail(true, used && !broken,
		     "FB-V11/FB-V12 row 2: a buffer with no driver-readable bytes is used and the device goes on "
		     "(used %d, NEEDS_RESET %d; QEMU's virtqueue layer refuses zero-sized descriptors and marks the device broken, the table's row 2 note)",
		     used, broken);
	if (st)
		report_info("bad-records +%llu for the empty buffer", (unsigned long long)(s1.bad - s0.bad));
	{
		u64 named, zero;

		report(kept_lost(&named, &zero) == 0 && named == 0, "no kept page changed");
	}
	/* recover: reset and set up again (2.4), then the device works */
	balloon_reset(H.b);
	report(balloon_reinit(H.b) == 0, "device set up again after the reset");
	report(valid_request(H.rs + 3), "the device answers a valid request after the reset");
	restore();
	guard_check();
}
GUEST_TEST("hostile-empty", hostile_empty_test, "row 2: zero-length descriptor, then reset");
