/*
 * The free-page bitmap's rounds: see fb-round.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "fb-round.h"

void fb_round_init(struct fb_round *r)
{
    r->id = 0;
    r->rounds = 0;
    r->postcopy_skips = 0;
    r->arms = 0;
}

static void stop(struct fb_round *r, const struct fb_round_ops *ops,
                 void *opaque)
{
    uint64_t id = r->id;

    if (!id) {
        return;
    }
    /* forget it first: answers handled from here on are not used */
    r->id = 0;
    ops->cancel(opaque, id);
}

void fb_round_notify(struct fb_round *r, enum fb_round_event ev,
                     const struct fb_round_env *env,
                     const struct fb_round_ops *ops, void *opaque)
{
    uint64_t id;

    stop(r, ops, opaque);
    if (ev != FB_ROUND_AFTER_SYNC || !env->vm_running || !env->usable) {
        return;
    }
    /* a hinted page is not migrated, not even on a postcopy fault */
    if (env->postcopy) {
        r->postcopy_skips++;
        return;
    }
    /* before the guest can name a page, its later writes must be logged */
    ops->arm(opaque);
    r->arms++;
    id = ops->submit(opaque);
    if (!id) {
        return;
    }
    r->id = id;
    r->rounds++;
}

bool fb_round_accepts(const struct fb_round *r, uint64_t req_id)
{
    return req_id && req_id == r->id;
}
