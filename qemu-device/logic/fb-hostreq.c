/*
 * Host request bookkeeping, see fb-hostreq.h and docs/protocol.md.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "fb-hostreq.h"

void fb_hr_init(struct fb_hostreq *h)
{
    memset(h, 0, sizeof(*h));
    h->next_id = 1;
}

void fb_hr_reset(struct fb_hostreq *h)
{
    uint64_t next = h->next_id;

    fb_hr_init(h);
    h->next_id = next ? next : 1;
}

static int find_slot(const struct fb_hostreq *h, uint64_t id)
{
    int i;

    if (id == 0) {
        return -1;
    }
    for (i = 0; i < FB_HR_SLOTS; i++) {
        if (h->slot_state[i] != FB_HR_FREE && h->slot_id[i] == id) {
            return i;
        }
    }
    return -1;
}

static bool id_in_use(const struct fb_hostreq *h, uint64_t id)
{
    uint64_t i;

    if (find_slot(h, id) >= 0) {
        return true;
    }
    for (i = 0; i < h->out_n && i < FB_HR_OUTQ; i++) {
        if (h->out_id[i] == id) {
            return true;
        }
    }
    return false;
}

/* FB-V13: non-zero, not held by any request still waiting for DONE. Ids
 * grow, so an id comes back only after 2^64 requests. */
static uint64_t new_id(struct fb_hostreq *h)
{
    uint64_t id;
    int guard = FB_HR_SLOTS + FB_HR_OUTQ + 2;

    do {
        id = h->next_id++;
        if (h->next_id == 0) {
            h->next_id = 1;
        }
    } while ((id == 0 || id_in_use(h, id)) && --guard > 0);
    return id;
}

static void out_push(struct fb_hostreq *h, uint16_t cmd, uint64_t id,
                     uint64_t param)
{
    uint64_t n = h->out_n;

    h->out_cmd[n] = cmd;
    h->out_id[n] = id;
    h->out_param[n] = param;
    h->out_n = n + 1;
}

static void out_remove(struct fb_hostreq *h, uint64_t at)
{
    uint64_t i;

    for (i = at; i + 1 < h->out_n; i++) {
        h->out_cmd[i] = h->out_cmd[i + 1];
        h->out_id[i] = h->out_id[i + 1];
        h->out_param[i] = h->out_param[i + 1];
    }
    h->out_n--;
    h->out_cmd[h->out_n] = 0;
    h->out_id[h->out_n] = 0;
    h->out_param[h->out_n] = 0;
}

static void slot_free(struct fb_hostreq *h, int i)
{
    h->slot_id[i] = 0;
    h->slot_cmd[i] = 0;
    h->slot_state[i] = FB_HR_FREE;
    h->slot_param[i] = 0;
}

uint64_t fb_hr_submit(struct fb_hostreq *h, uint16_t cmd, uint64_t param)
{
    int i, slot = -1, oldest = -1;
    uint64_t id;

    if ((cmd != FB_CMD_DROP_CACHE && cmd != FB_CMD_FREE_PAGES) ||
        h->out_n >= FB_HR_OUTQ) {
        return 0;
    }
    for (i = 0; i < FB_HR_SLOTS; i++) {
        if (h->slot_state[i] == FB_HR_FREE) {
            slot = i;
            break;
        }
        if (h->slot_state[i] == FB_HR_CANCELLED &&
            (oldest < 0 || h->slot_id[i] < h->slot_id[oldest])) {
            oldest = i;
        }
    }
    if (slot < 0) {
        if (oldest < 0) {
            return 0;
        }
        slot = oldest;          /* its late DONE will be a bad record */
        slot_free(h, slot);
    }
    id = new_id(h);
    if (id == 0 || id_in_use(h, id)) {
        return 0;
    }
    h->slot_id[slot] = id;
    h->slot_cmd[slot] = cmd;
    h->slot_state[slot] = FB_HR_QUEUED;
    h->slot_param[slot] = param;
    out_push(h, cmd, id, param);
    return id;
}

bool fb_hr_cancel(struct fb_hostreq *h, uint64_t id)
{
    int i = find_slot(h, id);
    uint64_t k, cid;

    if (i < 0) {
        return false;
    }
    switch (h->slot_state[i]) {
    case FB_HR_QUEUED:
        for (k = 0; k < h->out_n; k++) {
            if (h->out_id[k] == id && h->out_cmd[k] != FB_CMD_CANCEL) {
                out_remove(h, k);
                break;
            }
        }
        slot_free(h, i);
        return false;
    case FB_HR_SENT:
        h->slot_state[i] = FB_HR_CANCELLED;
        if (h->out_n >= FB_HR_OUTQ) {
            return false;
        }
        cid = new_id(h);
        if (cid == 0 || id_in_use(h, cid)) {
            return false;
        }
        out_push(h, FB_CMD_CANCEL, cid, id);
        return true;
    default:
        return false;
    }
}

void fb_hr_encode(uint8_t out[FB_HOST_REQ_SIZE], uint16_t cmd, uint64_t id,
                  uint64_t param)
{
    memset(out, 0, FB_HOST_REQ_SIZE);
    fb_put_le16(out, cmd);
    fb_put_le64(out + 8, id);
    fb_put_le64(out + 16, param);
}

bool fb_hr_peek(const struct fb_hostreq *h, uint8_t out[FB_HOST_REQ_SIZE])
{
    if (h->out_n == 0 || h->out_n > FB_HR_OUTQ) {
        return false;
    }
    fb_hr_encode(out, h->out_cmd[0], h->out_id[0], h->out_param[0]);
    return true;
}

void fb_hr_pop(struct fb_hostreq *h)
{
    int i;

    if (h->out_n == 0 || h->out_n > FB_HR_OUTQ) {
        return;
    }
    if (h->out_cmd[0] != FB_CMD_CANCEL) {
        i = find_slot(h, h->out_id[0]);
        if (i >= 0 && h->slot_state[i] == FB_HR_QUEUED) {
            h->slot_state[i] = FB_HR_SENT;
        }
    }
    out_remove(h, 0);
}

struct fb_hr_answer fb_hr_answer(struct fb_hostreq *h, uint16_t type,
                                 uint16_t flags, uint64_t req_id)
{
    struct fb_hr_answer a = { FB_HR_BAD_ID, 0, 0, false };
    bool done = flags & FB_FLAG_DONE;
    bool fits;
    int i = find_slot(h, req_id);

    /* a queued request has not reached the driver: nobody can answer it */
    if (i < 0 || h->slot_state[i] == FB_HR_QUEUED) {
        return a;
    }
    switch (h->slot_cmd[i]) {
    case FB_CMD_DROP_CACHE:
        fits = type == FB_REC_STATUS && done;
        break;
    case FB_CMD_FREE_PAGES:
        /* pages, or a STATUS that ends it (a refusal, FB-D12) */
        fits = type == FB_REC_BITMAP || type == FB_REC_RANGES ||
               (type == FB_REC_STATUS && done);
        break;
    default:
        fits = false;
    }
    if (!fits) {
        a.verdict = FB_HR_BAD_TYPE;
        return a;
    }
    a.verdict = h->slot_state[i] == FB_HR_SENT ? FB_HR_ACCEPT : FB_HR_STALE;
    a.cmd = h->slot_cmd[i];
    a.param = h->slot_param[i];
    a.done = done;
    if (done) {
        slot_free(h, i);
    }
    return a;
}

enum fb_hr_state fb_hr_state_of(const struct fb_hostreq *h, uint64_t id)
{
    int i = find_slot(h, id);

    return i < 0 ? FB_HR_FREE : (enum fb_hr_state)h->slot_state[i];
}

unsigned fb_hr_outstanding(const struct fb_hostreq *h)
{
    unsigned n = 0;
    int i;

    for (i = 0; i < FB_HR_SLOTS; i++) {
        n += h->slot_state[i] != FB_HR_FREE;
    }
    return n;
}

/*
 * Was 'id' handed out before next_id? Ids grow by one and skip 0 when the
 * counter wraps (after 2^64 requests), so "before" is modular: within the
 * 2^63 ids below next_id. A stream whose live ids are at or beyond its
 * counter would get them reused (FB-V13).
 */
static bool issued(const struct fb_hostreq *h, uint64_t id)
{
    uint64_t behind = h->next_id - id;

    return id != 0 && behind != 0 && behind <= (1ull << 63);
}

bool fb_hr_valid(const struct fb_hostreq *h)
{
    uint64_t k;
    int i, j;

    if (h->next_id == 0 || h->out_n > FB_HR_OUTQ) {
        return false;
    }
    for (i = 0; i < FB_HR_SLOTS; i++) {
        if (h->slot_state[i] > FB_HR_CANCELLED) {
            return false;
        }
        if (h->slot_state[i] == FB_HR_FREE) {
            continue;
        }
        if (!issued(h, h->slot_id[i]) ||
            (h->slot_cmd[i] != FB_CMD_DROP_CACHE &&
             h->slot_cmd[i] != FB_CMD_FREE_PAGES)) {
            return false;
        }
        for (j = 0; j < i; j++) {
            if (h->slot_state[j] != FB_HR_FREE &&
                h->slot_id[j] == h->slot_id[i]) {
                return false;
            }
        }
    }
    for (k = 0; k < h->out_n; k++) {
        if (!issued(h, h->out_id[k]) ||
            h->out_cmd[k] < FB_CMD_DROP_CACHE ||
            h->out_cmd[k] > FB_CMD_CANCEL) {
            return false;
        }
        if (h->out_cmd[k] == FB_CMD_CANCEL &&
            !issued(h, h->out_param[k])) {
            return false;
        }
        if (h->out_cmd[k] != FB_CMD_CANCEL) {
            i = find_slot(h, h->out_id[k]);
            if (i < 0 || h->slot_state[i] != FB_HR_QUEUED ||
                h->slot_cmd[i] != h->out_cmd[k]) {
                return false;
            }
        }
    }
    return true;
}

bool fb_hr_loadable(const struct fb_hostreq *h)
{
    int i;

    if (!fb_hr_valid(h)) {
        return false;
    }
    /*
     * A FREE_PAGES request belongs to one migration round, which is
     * cancelled before the device state is saved; the round itself is not
     * migrated, so a live one in a stream would be accepted forever.
     */
    for (i = 0; i < FB_HR_SLOTS; i++) {
        if (h->slot_cmd[i] == FB_CMD_FREE_PAGES &&
            (h->slot_state[i] == FB_HR_QUEUED ||
             h->slot_state[i] == FB_HR_SENT)) {
            return false;
        }
    }
    return true;
}

const char *fb_hr_verdict_name(enum fb_hr_verdict v)
{
    switch (v) {
    case FB_HR_ACCEPT:
        return "accept";
    case FB_HR_STALE:
        return "stale";
    case FB_HR_BAD_ID:
        return "unknown-req-id";
    case FB_HR_BAD_TYPE:
        return "wrong-answer-type";
    }
    return "unknown";
}
