/*
 * The negative-test knobs (table in breaks.h): their names, and what they
 * do where that is more than a line at the driver's hook.
 */
#include "types.h"
#include "string.h"
#include "report.h"
#include "virtio/balloon/internal.h"

#define BRK_NAME_(knob, name, breaks, where, entries) { name, BRK_##knob },
static const struct { const char *name; u32 bit; } break_names[] = { BALLOON_BREAKS(BRK_NAME_) };
#undef BRK_NAME_

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

void balloon_opts_breaks(struct balloon_opts *o, const char *arg)
{
	o->brk = balloon_parse_break(arg);
	/* ranges-not-negotiated: accept PAGE_BITMAP only, then send RANGES (pick_encoder) */
	if (o->brk & BRK_RANGES_NOT_NEG)
		o->features &= ~(1ull << FB_F_PAGE_RANGES);
}

/* features-ok: negotiate without reading FEATURES_OK back, keeping whatever was written */
void brk_accept_features(struct virtio_dev *vd, u64 want)
{
	virtio_reset(vd);
	vd->tp->set_status(vd, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	vd->features_offered = vd->tp->get_features(vd);
	vd->features = want;
	vd->tp->set_features(vd, want);
	vd->tp->set_status(vd, vd->tp->get_status(vd) | VIRTIO_CONFIG_S_FEATURES_OK);
}

/* pfn-in-records, ranges-not-negotiated: a format the device must refuse (FB-D4, FB-D5) */
const struct balloon_encoder *brk_wrong_encoder(struct balloon *b)
{
	return brk(b, BRK_PFN_IN_RECORDS) ? &balloon_pfn_encoder : &balloon_ranges_encoder;
}

/* actual-bytes: actual written a byte at a time (a legacy device may read it half done) */
void brk_write_actual_bytes(struct balloon *b, u32 v)
{
	for (int i = 0; i < 4; i++)
		virtio_cwrite8(&b->vd, CFG_ACTUAL + i, v >> (8 * i));
}

/* reuse-before-ack: the deflated pages are the guest's again as soon as they are queued */
void brk_reuse_early(struct balloon *b, struct balloon_req *r)
{
	b->ordering_violations += r->pages;
	r->enc->for_each(r, release_run, r);
}

/* stale-rings: after a reset, renegotiate and go live on the old rings, never set up again */
int brk_reinit_stale_rings(struct balloon *b)
{
	struct virtio_dev *vd = &b->vd;

	if (virtio_negotiate(vd, b->o.features & (vd->tp->legacy ? 0xffffffffull : ~0ull)))
		return -2;
	virtio_driver_ok(vd);
	return 0;
}
