/*
 * Host requests (HOST_REQ, docs/protocol.md 5.5.6.y): the device's side of
 * the request/answer bookkeeping. Ids, outstanding requests, the messages
 * waiting for a buffer on host_req_vq, and the verdict on each answer
 * record read from host_resp_vq. Pure C, no allocation; every field is a
 * uint64_t so QEMU can migrate the whole state as arrays.
 *
 * Rules it implements: FB-V13 (ids non-zero, never reused before DONE:
 * ids only grow), FB-V15 (records for an unknown or finished id, or of a
 * type the request does not take, are bad), and the stop rule of the
 * migration section (a cancelled request's records are ignored until its
 * DONE).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef FB_HOSTREQ_H
#define FB_HOSTREQ_H

#include <stdbool.h>
#include <stdint.h>
#include "fb-proto.h"

#define FB_HR_SLOTS     8       /* requests waiting for their DONE */
#define FB_HR_OUTQ      8       /* messages waiting for a host_req_vq buffer */

enum fb_hr_state {
    FB_HR_FREE = 0,
    FB_HR_QUEUED = 1,           /* message not yet in a guest buffer */
    FB_HR_SENT = 2,             /* in a guest buffer: answers accepted */
    FB_HR_CANCELLED = 3,        /* answers ignored until DONE */
};

struct fb_hostreq {
    uint64_t next_id;           /* next id to hand out, never 0 */
    uint64_t slot_id[FB_HR_SLOTS];
    uint64_t slot_cmd[FB_HR_SLOTS];
    uint64_t slot_state[FB_HR_SLOTS];
    uint64_t slot_param[FB_HR_SLOTS];
    uint64_t out_n;             /* FIFO of messages, out_*[0] is the head */
    uint64_t out_cmd[FB_HR_OUTQ];
    uint64_t out_id[FB_HR_OUTQ];
    uint64_t out_param[FB_HR_OUTQ];
};

/* What to do with one answer record. */
enum fb_hr_verdict {
    FB_HR_ACCEPT = 0,           /* use it (pages: hint them; STATUS: result) */
    FB_HR_STALE = 1,            /* request was cancelled: ignore, not bad */
    FB_HR_BAD_ID = 2,           /* unknown or finished id (row 6) */
    FB_HR_BAD_TYPE = 3,         /* type the request does not take (row 5) */
};

struct fb_hr_answer {
    enum fb_hr_verdict verdict;
    uint64_t cmd;               /* the request's cmd (ACCEPT, STALE) */
    uint64_t param;             /* the request's param (ACCEPT, STALE) */
    bool done;                  /* the record ended the request (DONE) */
};

void fb_hr_init(struct fb_hostreq *h);
/* Device reset: every request and message is forgotten; ids keep growing. */
void fb_hr_reset(struct fb_hostreq *h);
/* Sanity of a state: slots and queue consistent, every id below next_id. */
bool fb_hr_valid(const struct fb_hostreq *h);
/* A state that came in a migration stream: valid, and no FREE_PAGES request
 * but a cancelled one (a round is cancelled before the state is saved). */
bool fb_hr_loadable(const struct fb_hostreq *h);

/* New DROP_CACHE or FREE_PAGES request, queued for sending. Returns its id,
 * or 0 when no slot or queue entry is free (a cancelled request's slot is
 * given up first: its id is simply never accepted again). */
uint64_t fb_hr_submit(struct fb_hostreq *h, uint16_t cmd, uint64_t param);
/* Stop accepting answers to 'id'. An unsent request is just dropped; a
 * sent one becomes CANCELLED and a CANCEL message is queued (if there is
 * room; answers are ignored either way). Returns true if a CANCEL was
 * queued. */
bool fb_hr_cancel(struct fb_hostreq *h, uint64_t id);

/* The message at the head of the queue, encoded (24 bytes); false if
 * none. fb_hr_pop() removes it once it is in a guest buffer. */
bool fb_hr_peek(const struct fb_hostreq *h, uint8_t out[FB_HOST_REQ_SIZE]);
void fb_hr_pop(struct fb_hostreq *h);

/* Verdict on a valid record (fb_parse's record callback) read from
 * host_resp_vq. A DONE record of an ACCEPT or STALE verdict frees the
 * request; bad records change nothing. */
struct fb_hr_answer fb_hr_answer(struct fb_hostreq *h, uint16_t type,
                                 uint16_t flags, uint64_t req_id);

/* State of request 'id' (FB_HR_FREE if none). */
enum fb_hr_state fb_hr_state_of(const struct fb_hostreq *h, uint64_t id);
/* Number of requests not yet DONE. */
unsigned fb_hr_outstanding(const struct fb_hostreq *h);

/* Encode a request (also used by tests to build expected bytes). */
void fb_hr_encode(uint8_t out[FB_HOST_REQ_SIZE], uint16_t cmd, uint64_t id,
                  uint64_t param);
const char *fb_hr_verdict_name(enum fb_hr_verdict v);

#endif
