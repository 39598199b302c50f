/*
 * The balloon's size (5.5.6.2): num_pages is what the device asks for,
 * actual what the driver has; balloon_follow moves one to the other.
 */
#include "types.h"
#include "virtio/balloon/internal.h"

u32 balloon_num_pages(struct balloon *b)
{
	u32 cfg[2];

	virtio_cread_stable(&b->vd, CFG_NUM_PAGES, cfg, sizeof(cfg));
	if (brk(b, BRK_CONFIG_BE))
		return __builtin_bswap32(cfg[0]);
	return cfg[0];	/* le32 (5.5.4, also for legacy); x86 is little-endian */
}

u32 balloon_read_actual(struct balloon *b)
{
	return virtio_cread32(&b->vd, CFG_ACTUAL);
}

void balloon_update_actual(struct balloon *b)
{
	u32 v = (u32)b->nr_pages;

	if (brk(b, BRK_NO_ACTUAL))
		return;
	if (brk(b, BRK_ACTUAL_BYTES))
		brk_write_actual_bytes(b, v);
	else
		virtio_cwrite32(&b->vd, CFG_ACTUAL, v);	/* 5.5.6.2.1: one 4-byte write */
	b->actual_written = v;
}

u32 balloon_follow(struct balloon *b)
{
	u32 target = balloon_num_pages(b);

	b->cfg_changes_seen = b->vd.config_changes;
	if (brk(b, BRK_IGNORE_CONFIG))
		target = (u32)b->nr_pages;
	if (target > b->nr_pages)
		balloon_inflate(b, target - b->nr_pages);
	else if (target < b->nr_pages)
		balloon_deflate(b, b->nr_pages - target);
	balloon_update_actual(b);
	balloon_host_poll(b);
	return target;
}
