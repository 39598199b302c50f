/*
 * Host unit tests for qemu-device/logic/fb-round.c: the order of arming
 * dirty tracking, FREE_PAGES and its cancel across migration bitmap syncs
 * (docs/protocol.md, "Live migration: the free-page bitmap", FB-V14).
 * Prints TAP.
 *
 * The device's part of "nothing is lost" is an ordering: dirty tracking is
 * armed after the latest sync and before the request goes out, and no
 * answer is used after the next sync begins. A fake device records what the
 * logic asks of it; the checks replay that log against the rules, for
 * hand-written sequences and for long random ones.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "tap.h"
#include "fb-round.h"

enum act { A_ARM, A_SUBMIT, A_CANCEL, A_SYNC };

struct fake {
    uint64_t next_id;
    int room;                   /* submits that still succeed */
    int n;
    enum act log[64];
    uint64_t log_id[64];
};

static void record(struct fake *f, enum act a, uint64_t id)
{
    if (f->n < 64) {
        f->log[f->n] = a;
        f->log_id[f->n] = id;
        f->n++;
    }
}

static void fake_arm(void *opaque)
{
    record(opaque, A_ARM, 0);
}

static uint64_t fake_submit(void *opaque)
{
    struct fake *f = opaque;

    if (!f->room) {
        record(f, A_SUBMIT, 0);
        return 0;
    }
    f->room--;
    record(f, A_SUBMIT, f->next_id);
    return f->next_id++;
}

static void fake_cancel(void *opaque, uint64_t id)
{
    record(opaque, A_CANCEL, id);
}

static const struct fb_round_ops ops = {
    .arm = fake_arm, .submit = fake_submit, .cancel = fake_cancel,
};

static const struct fb_round_env running = {
    .vm_running = true, .usable = true, .postcopy = false,
};

static void fake_init(struct fake *f)
{
    f->next_id = 100;
    f->room = 1000;
    f->n = 0;
}

/*
 * The rules, checked on one notification's log: a SUBMIT comes only after
 * an ARM in the same notification (the sync that opened the round came
 * just before it), the previous round's id is cancelled before anything
 * else happens, and at most one request is live afterwards.
 */
static int log_ok(const struct fake *f, uint64_t prev_id, const char **why)
{
    int armed = 0, cancelled = !prev_id;
    int i;

    for (i = 0; i < f->n; i++) {
        switch (f->log[i]) {
        case A_CANCEL:
            if (f->log_id[i] != prev_id || cancelled) {
                *why = "cancelled an id that was not the live round";
                return 0;
            }
            cancelled = 1;
            break;
        case A_ARM:
            if (!cancelled) {
                *why = "armed before the previous round was stopped";
                return 0;
            }
            armed = 1;
            break;
        case A_SUBMIT:
            if (!armed) {
                *why = "FREE_PAGES sent without arming dirty tracking first";
                return 0;
            }
            break;
        default:
            break;
        }
    }
    if (!cancelled) {
        *why = "the previous round's request was not cancelled";
        return 0;
    }
    return 1;
}

static void test_first_round(void)
{
    struct fb_round r;
    struct fake f;
    const char *why = "";
    int res;

    fb_round_init(&r);
    fake_init(&f);
    fb_round_notify(&r, FB_ROUND_AFTER_SYNC, &running, &ops, &f);
    ok(f.n == 2 && f.log[0] == A_ARM && f.log[1] == A_SUBMIT,
       "after the first sync, VM running: arm, then FREE_PAGES (log of %d)",
       f.n);
    res = log_ok(&f, 0, &why);
    ok(res, "first round follows the rules %s", why);
    ok(r.id == 100 && fb_round_accepts(&r, 100) && r.rounds == 1 &&
       r.arms == 1, "its answers are accepted (id %llu)",
       (unsigned long long)r.id);
    ok(!fb_round_accepts(&r, 0) && !fb_round_accepts(&r, 99) &&
       !fb_round_accepts(&r, 101), "no other id is accepted");
}

static void test_before_sync_stops(void)
{
    struct fb_round r;
    struct fake f;

    fb_round_init(&r);
    fake_init(&f);
    fb_round_notify(&r, FB_ROUND_AFTER_SYNC, &running, &ops, &f);
    f.n = 0;
    fb_round_notify(&r, FB_ROUND_BEFORE_SYNC, &running, &ops, &f);
    ok(f.n == 1 && f.log[0] == A_CANCEL && f.log_id[0] == 100,
       "before the next sync: the round's request is cancelled");
    ok(!fb_round_accepts(&r, 100) && r.id == 0,
       "and its answers are no longer used");
    f.n = 0;
    fb_round_notify(&r, FB_ROUND_AFTER_SYNC, &running, &ops, &f);
    ok(f.n == 2 && f.log[0] == A_ARM && f.log[1] == A_SUBMIT &&
       f.log_id[1] == 101 && fb_round_accepts(&r, 101),
       "next round: armed again, a new id");
}

static void test_after_sync_without_before(void)
{
    struct fb_round r;
    struct fake f;
    const char *why = "";
    int res;

    /* QEMU always notifies BEFORE_SYNC first; the logic must not rely on it */
    fb_round_init(&r);
    fake_init(&f);
    fb_round_notify(&r, FB_ROUND_AFTER_SYNC, &running, &ops, &f);
    f.n = 0;
    fb_round_notify(&r, FB_ROUND_AFTER_SYNC, &running, &ops, &f);
    res = log_ok(&f, 100, &why);
    ok(res && f.n == 3 && f.log[0] == A_CANCEL,
       "a second AFTER_SYNC cancels the old round before arming %s", why);
}

static void test_no_round(void)
{
    struct fb_round r;
    struct fake f;
    struct fb_round_env e;

    fb_round_init(&r);
    fake_init(&f);
    e = running;
    e.vm_running = false;
    fb_round_notify(&r, FB_ROUND_AFTER_SYNC, &e, &ops, &f);
    ok(f.n == 0 && r.id == 0, "final sync (VM stopped): nothing asked");
    e = running;
    e.usable = false;
    fb_round_notify(&r, FB_ROUND_AFTER_SYNC, &e, &ops, &f);
    ok(f.n == 0 && r.id == 0,
       "driver without HOST_REQ and records: nothing asked");
    e = running;
    e.postcopy = true;
    fb_round_notify(&r, FB_ROUND_AFTER_SYNC, &e, &ops, &f);
    ok(f.n == 0 && r.id == 0 && r.postcopy_skips == 1,
       "postcopy-ram on: nothing asked, counted as a skip");
    fb_round_notify(&r, FB_ROUND_CLEANUP, &running, &ops, &f);
    fb_round_notify(&r, FB_ROUND_BEFORE_SYNC, &running, &ops, &f);
    ok(f.n == 0, "no round open: cleanup and before-sync cancel nothing");
}

static void test_submit_fails(void)
{
    struct fb_round r;
    struct fake f;

    fb_round_init(&r);
    fake_init(&f);
    f.room = 0;
    fb_round_notify(&r, FB_ROUND_AFTER_SYNC, &running, &ops, &f);
    ok(r.id == 0 && r.rounds == 0 && !fb_round_accepts(&r, 100),
       "device out of request slots: no round, nothing accepted");
    f.n = 0;
    fb_round_notify(&r, FB_ROUND_BEFORE_SYNC, &running, &ops, &f);
    ok(f.n == 0, "and nothing to cancel at the next sync");
}

static void test_cleanup_reset(void)
{
    struct fb_round r;
    struct fake f;

    fb_round_init(&r);
    fake_init(&f);
    fb_round_notify(&r, FB_ROUND_AFTER_SYNC, &running, &ops, &f);
    f.n = 0;
    fb_round_notify(&r, FB_ROUND_CLEANUP, &running, &ops, &f);
    ok(f.n == 1 && f.log[0] == A_CANCEL && !fb_round_accepts(&r, 100),
       "cleanup (cancel, failure, completion) ends the round");
    fb_round_notify(&r, FB_ROUND_AFTER_SYNC, &running, &ops, &f);
    f.n = 0;
    fb_round_notify(&r, FB_ROUND_RESET, &running, &ops, &f);
    ok(f.n == 1 && f.log[0] == A_CANCEL && r.id == 0,
       "device reset ends the round");
}

/*
 * Random event sequences with random conditions: every notification's log
 * follows the rules, and between two syncs at most one id is accepted,
 * never one from before the latest sync.
 */
static void test_random(void)
{
    struct fb_round r;
    struct fake f;
    uint64_t seed = 0x5eed1234abcdull, prev, accepted_before_sync = 0;
    const char *why = "";
    int i, bad = 0, submits = 0;

    diag("random sequence: seed 0x%llx", (unsigned long long)seed);
    fb_round_init(&r);
    fake_init(&f);
    for (i = 0; i < 200000 && !bad; i++) {
        struct fb_round_env e;
        enum fb_round_event ev;

        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        ev = (enum fb_round_event)((seed >> 33) % 4);
        e.vm_running = (seed >> 40) % 8 != 0;
        e.usable = (seed >> 44) % 8 != 0;
        e.postcopy = (seed >> 48) % 16 == 0;
        f.room = (seed >> 52) % 16 != 0;
        prev = r.id;
        f.n = 0;
        if (ev == FB_ROUND_BEFORE_SYNC) {
            accepted_before_sync = r.id;
        }
        fb_round_notify(&r, ev, &e, &ops, &f);
        if (!log_ok(&f, prev, &why)) {
            bad = 1;
            break;
        }
        if (prev && fb_round_accepts(&r, prev)) {
            why = "an id from before the event is still accepted";
            bad = 1;
        }
        if (accepted_before_sync && fb_round_accepts(&r, accepted_before_sync)) {
            why = "an id from before a sync is accepted after it";
            bad = 1;
        }
        submits += f.n && f.log[f.n - 1] == A_SUBMIT && f.log_id[f.n - 1];
    }
    ok(!bad, "200000 random notifications keep the order (%d rounds) %s",
       submits, bad ? why : "");
    ok(r.rounds == (uint64_t)submits && r.arms >= r.rounds,
       "rounds counted: %llu, arms %llu", (unsigned long long)r.rounds,
       (unsigned long long)r.arms);
}

int main(void)
{
    test_first_round();
    test_before_sync_stops();
    test_after_sync_without_before();
    test_no_round();
    test_submit_fails();
    test_cleanup_reset();
    test_random();
    return tap_done();
}
