/*
 * The free-page bitmap's rounds during precopy migration (docs/protocol.md,
 * "Live migration: the free-page bitmap"): in which order the device arms
 * dirty tracking, asks the guest for free pages and stops asking. Pure C;
 * the device supplies the three actions as callbacks.
 *
 * One FREE_PAGES request per interval between two dirty-bitmap syncs:
 *  - after a sync with the VM running (and the driver able to answer, and
 *    postcopy off): cancel the previous round's request, ARM dirty tracking
 *    for all guest RAM, then SUBMIT the new request. Arming first is what
 *    makes a page the guest names and then writes safe on KVM with lazy
 *    dirty-log clearing (protocol.md, "Why this is safe");
 *  - before a sync, at cleanup and at device reset: cancel the round's
 *    request, so no hint of one round is used after the next sync;
 *  - after the final sync (VM stopped): nothing.
 * Answers for a request are used only while it is the armed, current
 * round (fb_round_accepts).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef FB_ROUND_H
#define FB_ROUND_H

#include <stdbool.h>
#include <stdint.h>

enum fb_round_event {
    FB_ROUND_BEFORE_SYNC = 0,
    FB_ROUND_AFTER_SYNC = 1,
    FB_ROUND_CLEANUP = 2,
    FB_ROUND_RESET = 3,         /* device reset: the driver starts over */
};

/* What holds when the event comes. */
struct fb_round_env {
    bool vm_running;
    bool usable;                /* driver accepted HOST_REQ + records, DRIVER_OK */
    bool postcopy;              /* postcopy-ram on: hints would lose pages */
};

struct fb_round_ops {
    /* Make every later guest write visible to the next sync. */
    void (*arm)(void *opaque);
    /* Queue FREE_PAGES; its id, or 0 if the device has no room. */
    uint64_t (*submit)(void *opaque);
    /* Stop accepting answers to 'id' (and tell the guest). */
    void (*cancel)(void *opaque, uint64_t id);
};

struct fb_round {
    uint64_t id;                /* the current round's request, 0 if none */
    uint64_t rounds;            /* requests submitted */
    uint64_t postcopy_skips;    /* rounds not asked because of postcopy */
    uint64_t arms;              /* times dirty tracking was armed */
};

void fb_round_init(struct fb_round *r);
void fb_round_notify(struct fb_round *r, enum fb_round_event ev,
                     const struct fb_round_env *env,
                     const struct fb_round_ops *ops, void *opaque);
/* May pages named in an answer to 'req_id' be used now? */
bool fb_round_accepts(const struct fb_round *r, uint64_t req_id);

#endif
