/*
 * Host unit tests for qemu-device/logic/fb-hostreq.c: request ids, the
 * outgoing queue, cancel, and the verdict on answer records (FB-V13,
 * FB-V15, the migration stop rule of docs/protocol.md). Prints TAP.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include "tap.h"
#include "fb-hostreq.h"

static uint16_t msg_cmd(const uint8_t *m)
{
    return fb_le16(m);
}

static uint64_t msg_id(const uint8_t *m)
{
    return fb_le64(m + 8);
}

static uint64_t msg_param(const uint8_t *m)
{
    return fb_le64(m + 16);
}

static int msg_reserved_zero(const uint8_t *m)
{
    int i;

    for (i = 2; i < 8; i++) {
        if (m[i]) {
            return 0;
        }
    }
    return 1;
}

static void test_encode(void)
{
    uint8_t m[FB_HOST_REQ_SIZE];
    static const uint8_t want[FB_HOST_REQ_SIZE] = {
        2, 0, 0, 0, 0, 0, 0, 0,
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
        3, 0, 0, 0, 0, 0, 0, 0x80,
    };

    fb_hr_encode(m, FB_CMD_FREE_PAGES, 0x0102030405060708ull,
                 0x8000000000000003ull);
    ok(!memcmp(m, want, sizeof(m)),
       "request encodes as le16 cmd, 6 zero bytes, le64 id, le64 param");
}

static void test_submit_send(void)
{
    struct fb_hostreq h;
    uint8_t m[FB_HOST_REQ_SIZE];
    uint64_t a, b;

    fb_hr_init(&h);
    ok(!fb_hr_peek(&h, m), "fresh state has nothing to send");
    ok(fb_hr_valid(&h), "fresh state is valid");
    a = fb_hr_submit(&h, FB_CMD_DROP_CACHE, 3);
    b = fb_hr_submit(&h, FB_CMD_FREE_PAGES, 0);
    ok(a != 0 && b != 0 && a != b, "FB-V13: ids non-zero and distinct (%llu, %llu)",
       (unsigned long long)a, (unsigned long long)b);
    ok(fb_hr_state_of(&h, a) == FB_HR_QUEUED, "submitted request is queued");
    ok(fb_hr_submit(&h, 7, 0) == 0 && fb_hr_submit(&h, FB_CMD_CANCEL, 1) == 0,
       "only DROP_CACHE and FREE_PAGES can be submitted");
    ok(fb_hr_peek(&h, m) && msg_cmd(m) == FB_CMD_DROP_CACHE && msg_id(m) == a &&
       msg_param(m) == 3 && msg_reserved_zero(m),
       "head message is the first request, kind in param, reserved 0");
    /* answering before the request reached the driver is impossible */
    ok(fb_hr_answer(&h, FB_REC_STATUS, FB_FLAG_DONE, a).verdict == FB_HR_BAD_ID,
       "an answer to a request still queued is a bad id");
    fb_hr_pop(&h);
    ok(fb_hr_state_of(&h, a) == FB_HR_SENT, "popped request is sent");
    ok(fb_hr_peek(&h, m) && msg_id(m) == b && msg_cmd(m) == FB_CMD_FREE_PAGES,
       "FIFO order: FREE_PAGES next");
    fb_hr_pop(&h);
    ok(!fb_hr_peek(&h, m), "queue empty after two pops");
    fb_hr_pop(&h);                      /* harmless */
    ok(fb_hr_valid(&h) && fb_hr_outstanding(&h) == 2,
       "two outstanding requests, state valid");
}

static void test_answers(void)
{
    struct fb_hostreq h;
    struct fb_hr_answer r;
    uint64_t dc, fp;

    fb_hr_init(&h);
    dc = fb_hr_submit(&h, FB_CMD_DROP_CACHE, 1);
    fp = fb_hr_submit(&h, FB_CMD_FREE_PAGES, 0);
    fb_hr_pop(&h);
    fb_hr_pop(&h);

    r = fb_hr_answer(&h, FB_REC_BITMAP, 0, dc);
    ok(r.verdict == FB_HR_BAD_TYPE, "FB-V15: BITMAP for DROP_CACHE is a wrong type");
    r = fb_hr_answer(&h, FB_REC_STATUS, 0, dc);
    ok(r.verdict == FB_HR_BAD_TYPE,
       "FB-V15: STATUS without DONE for DROP_CACHE is a wrong type");
    ok(fb_hr_state_of(&h, dc) == FB_HR_SENT, "bad records leave the request alone");
    r = fb_hr_answer(&h, FB_REC_STATUS, FB_FLAG_DONE, dc);
    ok(r.verdict == FB_HR_ACCEPT && r.done && r.cmd == FB_CMD_DROP_CACHE &&
       r.param == 1, "STATUS DONE answers DROP_CACHE (cmd and kind returned)");
    ok(fb_hr_state_of(&h, dc) == FB_HR_FREE, "DONE frees the request");
    r = fb_hr_answer(&h, FB_REC_STATUS, FB_FLAG_DONE, dc);
    ok(r.verdict == FB_HR_BAD_ID, "FB-V15: a second DONE (finished id) is a bad id");

    r = fb_hr_answer(&h, FB_REC_BITMAP, 0, fp);
    ok(r.verdict == FB_HR_ACCEPT && !r.done && r.cmd == FB_CMD_FREE_PAGES,
       "BITMAP CONT accepted for FREE_PAGES");
    r = fb_hr_answer(&h, FB_REC_RANGES, 0, fp);
    ok(r.verdict == FB_HR_ACCEPT && !r.done, "RANGES CONT accepted for FREE_PAGES");
    r = fb_hr_answer(&h, FB_REC_STATUS, 0, fp);
    ok(r.verdict == FB_HR_BAD_TYPE, "STATUS without DONE for FREE_PAGES is a wrong type");
    r = fb_hr_answer(&h, 9, 0, fp);
    ok(r.verdict == FB_HR_BAD_TYPE, "unknown type is a wrong type");
    r = fb_hr_answer(&h, FB_REC_RANGES, FB_FLAG_DONE, fp);
    ok(r.verdict == FB_HR_ACCEPT && r.done, "RANGES DONE ends FREE_PAGES");
    r = fb_hr_answer(&h, FB_REC_BITMAP, 0, fp);
    ok(r.verdict == FB_HR_BAD_ID, "FB-V15: records after DONE are a bad id (stale)");
    ok(fb_hr_answer(&h, FB_REC_BITMAP, 0, 0).verdict == FB_HR_BAD_ID,
       "req_id 0 is a bad id");
    ok(fb_hr_answer(&h, FB_REC_BITMAP, 0, 12345).verdict == FB_HR_BAD_ID,
       "never-issued id is a bad id");

    fp = fb_hr_submit(&h, FB_CMD_FREE_PAGES, 0);
    fb_hr_pop(&h);
    r = fb_hr_answer(&h, FB_REC_STATUS, FB_FLAG_DONE, fp);
    ok(r.verdict == FB_HR_ACCEPT && r.done,
       "STATUS DONE (a refusal, FB-D12) ends FREE_PAGES");
    ok(fb_hr_outstanding(&h) == 0, "nothing outstanding at the end");
}

static void test_cancel(void)
{
    struct fb_hostreq h;
    struct fb_hr_answer r;
    uint8_t m[FB_HOST_REQ_SIZE];
    uint64_t fp, fp2, cancel_id;

    fb_hr_init(&h);
    fp = fb_hr_submit(&h, FB_CMD_FREE_PAGES, 0);
    ok(!fb_hr_cancel(&h, fp), "cancelling an unsent request sends no CANCEL");
    ok(!fb_hr_peek(&h, m) && fb_hr_state_of(&h, fp) == FB_HR_FREE,
       "... and drops it from the queue");

    fp = fb_hr_submit(&h, FB_CMD_FREE_PAGES, 0);
    fb_hr_pop(&h);
    ok(fb_hr_cancel(&h, fp), "cancelling a sent request queues a CANCEL");
    ok(fb_hr_state_of(&h, fp) == FB_HR_CANCELLED, "request is cancelled");
    ok(!fb_hr_cancel(&h, fp), "cancelling twice queues nothing more");
    ok(fb_hr_peek(&h, m) && msg_cmd(m) == FB_CMD_CANCEL && msg_param(m) == fp &&
       msg_id(m) != 0 && msg_id(m) != fp, "CANCEL names the id in param, own non-zero id");
    cancel_id = msg_id(m);
    fb_hr_pop(&h);
    ok(fb_hr_answer(&h, FB_REC_STATUS, FB_FLAG_DONE, cancel_id).verdict ==
       FB_HR_BAD_ID, "CANCEL has no answer of its own");
    r = fb_hr_answer(&h, FB_REC_BITMAP, 0, fp);
    ok(r.verdict == FB_HR_STALE && !r.done, "records after CANCEL are stale (ignored)");
    r = fb_hr_answer(&h, FB_REC_STATUS, 0, fp);
    ok(r.verdict == FB_HR_BAD_TYPE, "... wrong types are still bad");
    fp2 = fb_hr_submit(&h, FB_CMD_FREE_PAGES, 0);
    ok(fp2 != fp && fp2 != cancel_id, "FB-V13: next round's id differs");
    fb_hr_pop(&h);
    r = fb_hr_answer(&h, FB_REC_BITMAP, FB_FLAG_DONE, fp);
    ok(r.verdict == FB_HR_STALE && r.done, "late DONE of the cancelled id ends it");
    ok(fb_hr_answer(&h, FB_REC_BITMAP, 0, fp).verdict == FB_HR_BAD_ID,
       "after that DONE its id is a bad id");
    ok(fb_hr_answer(&h, FB_REC_BITMAP, 0, fp2).verdict == FB_HR_ACCEPT,
       "the new round's id is accepted");
    ok(!fb_hr_cancel(&h, 999) && !fb_hr_cancel(&h, 0), "cancelling unknown ids does nothing");
    ok(fb_hr_valid(&h), "state valid after cancels");
}

static void test_full(void)
{
    struct fb_hostreq h;
    uint8_t m[FB_HOST_REQ_SIZE];
    uint64_t ids[FB_HR_SLOTS], id, seen_max = 0;
    int i, nok = 1;

    fb_hr_init(&h);
    for (i = 0; i < FB_HR_OUTQ; i++) {
        ids[i] = fb_hr_submit(&h, FB_CMD_FREE_PAGES, 0);
        nok &= ids[i] != 0;
    }
    ok(nok, "%d requests fit", FB_HR_OUTQ);
    ok(fb_hr_submit(&h, FB_CMD_DROP_CACHE, 1) == 0,
       "no room: submit fails with id 0 (queue and slots full)");
    for (i = 0; i < FB_HR_OUTQ; i++) {
        fb_hr_pop(&h);
    }
    ok(fb_hr_submit(&h, FB_CMD_DROP_CACHE, 1) == 0,
       "all slots waiting for DONE: submit fails");
    /* a guest that never sends DONE: cancelled slots are given up oldest
     * first, and their ids never come back */
    for (i = 0; i < FB_HR_SLOTS; i++) {
        fb_hr_cancel(&h, ids[i]);
        while (fb_hr_peek(&h, m)) {
            fb_hr_pop(&h);
        }
    }
    id = fb_hr_submit(&h, FB_CMD_DROP_CACHE, 2);
    ok(id != 0 && fb_hr_state_of(&h, ids[0]) == FB_HR_FREE &&
       fb_hr_state_of(&h, ids[1]) == FB_HR_CANCELLED,
       "full of cancelled requests: the oldest is given up");
    ok(fb_hr_answer(&h, FB_REC_BITMAP, FB_FLAG_DONE, ids[0]).verdict == FB_HR_BAD_ID,
       "... its late DONE is a bad id");
    for (i = 0; i < FB_HR_SLOTS; i++) {
        seen_max = ids[i] > seen_max ? ids[i] : seen_max;
    }
    ok(id > seen_max, "ids only grow (FB-V13)");
    ok(fb_hr_valid(&h), "state valid");
}

static void test_wrap_and_reset(void)
{
    struct fb_hostreq h;
    uint64_t a, b;

    fb_hr_init(&h);
    h.next_id = UINT64_MAX;
    a = fb_hr_submit(&h, FB_CMD_FREE_PAGES, 0);
    b = fb_hr_submit(&h, FB_CMD_FREE_PAGES, 0);
    ok(a == UINT64_MAX && b == 1, "id counter wraps past 0 (%llu, %llu)",
       (unsigned long long)a, (unsigned long long)b);
    /* an id still held is skipped */
    fb_hr_pop(&h);
    h.next_id = a;
    b = fb_hr_submit(&h, FB_CMD_DROP_CACHE, 1);
    ok(b != a && b != 1 && b != 0, "ids still outstanding are skipped (%llu)",
       (unsigned long long)b);
    a = h.next_id;
    fb_hr_reset(&h);
    ok(fb_hr_outstanding(&h) == 0 && h.out_n == 0 && h.next_id == a,
       "reset forgets requests, keeps the id counter");
}

static void test_valid(void)
{
    struct fb_hostreq h, g;
    uint64_t a;

    fb_hr_init(&h);
    a = fb_hr_submit(&h, FB_CMD_FREE_PAGES, 0);
    fb_hr_submit(&h, FB_CMD_DROP_CACHE, 3);
    fb_hr_pop(&h);
    fb_hr_cancel(&h, a);
    ok(fb_hr_valid(&h), "queued+cancelled state valid");
    g = h;
    g.next_id = 0;
    ok(!fb_hr_valid(&g), "next_id 0 invalid");
    g = h;
    g.out_n = FB_HR_OUTQ + 1;
    ok(!fb_hr_valid(&g), "out_n past the queue invalid");
    g = h;
    g.slot_state[0] = 7;
    ok(!fb_hr_valid(&g), "unknown slot state invalid");
    g = h;
    g.slot_id[1] = g.slot_id[0];
    ok(!fb_hr_valid(&g), "duplicate ids invalid");
    g = h;
    g.out_cmd[0] = 9;
    ok(!fb_hr_valid(&g), "unknown queued cmd invalid");
    g = h;
    g.slot_cmd[0] = FB_CMD_CANCEL;
    ok(!fb_hr_valid(&g), "a CANCEL slot invalid");
    /* FB-V13 across migration: the counter must be past every live id */
    g = h;
    g.next_id = a;
    ok(!fb_hr_valid(&g), "a live id at the counter invalid (would be reused)");
    g = h;
    g.next_id = 1;
    ok(!fb_hr_valid(&g), "live ids beyond the counter invalid");
    /* the queue holds the DROP_CACHE, then the CANCEL of 'a' */
    ok(h.out_n == 2 && h.out_cmd[1] == FB_CMD_CANCEL && h.out_param[1] == a,
       "queue: DROP_CACHE, CANCEL");
    g = h;
    g.out_param[1] = g.next_id + 5;
    ok(!fb_hr_valid(&g), "a queued CANCEL for an id never issued invalid");
    g = h;
    g.out_param[1] = 0;
    ok(!fb_hr_valid(&g), "a queued CANCEL for id 0 invalid");
    ok(fb_hr_loadable(&h), "a cancelled FREE_PAGES and a queued DROP_CACHE load");
    /* a FREE_PAGES request never migrates live: its round does not */
    g = h;
    g.slot_state[0] = FB_HR_SENT;
    ok(fb_hr_valid(&g) && !fb_hr_loadable(&g),
       "a sent FREE_PAGES is a valid state but refused on load");
    fb_hr_init(&g);
    fb_hr_submit(&g, FB_CMD_FREE_PAGES, 0);
    ok(fb_hr_valid(&g) && !fb_hr_loadable(&g),
       "a queued FREE_PAGES is refused on load");
    fb_hr_init(&g);
    g.next_id = UINT64_MAX;
    a = fb_hr_submit(&g, FB_CMD_DROP_CACHE, 1);
    fb_hr_pop(&g);
    ok(g.next_id == 1 && fb_hr_valid(&g) && fb_hr_loadable(&g),
       "ids issued before the counter wrapped are still valid (%llu)",
       (unsigned long long)a);
    /* an invalid state must still not make the functions misbehave */
    g = h;
    g.out_n = 1000;
    ok(!fb_hr_peek(&g, (uint8_t[FB_HOST_REQ_SIZE]){0}), "peek refuses a bad out_n");
}

int main(void)
{
    diag("fb-hostreq: FB_HR_SLOTS %d, FB_HR_OUTQ %d", FB_HR_SLOTS, FB_HR_OUTQ);
    test_encode();
    test_submit_send();
    test_answers();
    test_cancel();
    test_full();
    test_wrap_and_reset();
    test_valid();
    return tap_done();
}
