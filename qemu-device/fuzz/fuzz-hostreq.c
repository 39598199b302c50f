/*
 * libFuzzer target over the host request bookkeeping (fb-hostreq.c). The
 * input is a sequence of operations (submit, cancel, send, answer, reset)
 * run against the real code and a naive model; checked after every step:
 * the state stays valid, ids are non-zero and never handed out while an
 * earlier request with that id waits for its DONE (FB-V13), the verdict on
 * each answer matches the model (FB-V15, the stop rule), and the queue
 * holds what the model says.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fb-hostreq.h"

/* Model: every request ever issued in this run, with its state. */
#define MAXREQ 4096
struct mreq {
    uint64_t id, cmd;
    enum fb_hr_state st;
};
static struct mreq m[MAXREQ];
static int nm;

static struct mreq *model_find(uint64_t id)
{
    int i;

    for (i = nm - 1; i >= 0; i--) {
        if (m[i].id == id && m[i].st != FB_HR_FREE) {
            return &m[i];
        }
    }
    return NULL;
}

#define FAIL(...) do { fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fb_hostreq h;
    uint8_t msg[FB_HOST_REQ_SIZE];
    size_t pos = 0;
    int i;

    nm = 0;
    fb_hr_init(&h);
    if (size >= 1 && (data[0] & 1)) {
        h.next_id = UINT64_MAX - (data[0] >> 1);    /* exercise the wrap */
    }
    pos = 1;
    while (pos + 2 <= size && nm < MAXREQ - 1) {
        uint8_t op = data[pos], arg = data[pos + 1];
        struct mreq *r;

        pos += 2;
        switch (op % 6) {
        case 0: {                                   /* submit */
            uint16_t cmd = (arg & 1) ? FB_CMD_FREE_PAGES : FB_CMD_DROP_CACHE;
            uint64_t id = fb_hr_submit(&h, cmd, arg >> 1);

            if (id) {
                if (model_find(id)) {
                    FAIL("id %llu reused before DONE", (unsigned long long)id);
                }
                m[nm].id = id;
                m[nm].cmd = cmd;
                m[nm].st = FB_HR_QUEUED;
                nm++;
            }
            break;
        }
        case 1:                                     /* cancel the k-th */
            if (nm) {
                r = &m[arg % nm];
                if (r->st == FB_HR_FREE) {
                    break;
                }
                fb_hr_cancel(&h, r->id);
                r->st = r->st == FB_HR_QUEUED ? FB_HR_FREE : FB_HR_CANCELLED;
            }
            break;
        case 2:                                     /* a buffer arrives */
            if (fb_hr_peek(&h, msg)) {
                uint16_t cmd = fb_le16(msg);
                uint64_t id = fb_le64(msg + 8);

                if (id == 0 || memcmp(msg + 2, "\0\0\0\0\0\0", 6)) {
                    FAIL("message with id 0 or reserved bytes set");
                }
                if (cmd != FB_CMD_CANCEL) {
                    r = model_find(id);
                    if (!r || r->st != FB_HR_QUEUED || r->cmd != cmd) {
                        FAIL("sent a request the model does not have queued");
                    }
                    r->st = FB_HR_SENT;
                } else {
                    r = model_find(fb_le64(msg + 16));
                    if (r && r->st != FB_HR_CANCELLED) {
                        FAIL("CANCEL for a request that is not cancelled");
                    }
                }
                fb_hr_pop(&h);
            }
            break;
        case 3:                                     /* answer record */
        case 4: {
            uint16_t type = 1 + (arg & 3);          /* 1..4, 4 is unknown */
            uint16_t flags = (arg >> 2) & 1;
            uint64_t id;
            struct fb_hr_answer a;
            enum fb_hr_verdict want;
            bool fits;

            if (nm && !(arg & 0x80)) {
                id = m[(arg >> 3) % nm].id;
            } else {
                id = arg >> 3;                      /* maybe never issued */
            }
            r = model_find(id);
            a = fb_hr_answer(&h, type, flags, id);
            if (!r || r->st == FB_HR_QUEUED) {
                want = FB_HR_BAD_ID;
            } else {
                fits = r->cmd == FB_CMD_DROP_CACHE ?
                       (type == FB_REC_STATUS && flags) :
                       (type == FB_REC_BITMAP || type == FB_REC_RANGES ||
                        (type == FB_REC_STATUS && flags));
                want = !fits ? FB_HR_BAD_TYPE :
                       r->st == FB_HR_SENT ? FB_HR_ACCEPT : FB_HR_STALE;
            }
            if (a.verdict != want) {
                FAIL("verdict %s, model %s", fb_hr_verdict_name(a.verdict),
                     fb_hr_verdict_name(want));
            }
            if ((want == FB_HR_ACCEPT || want == FB_HR_STALE) &&
                (a.done != !!flags || a.cmd != r->cmd)) {
                FAIL("done/cmd mismatch");
            }
            if (a.done) {
                r->st = FB_HR_FREE;
            }
            break;
        }
        case 5:                                     /* device reset */
            if (arg == 0xff) {
                fb_hr_reset(&h);
                for (i = 0; i < nm; i++) {
                    m[i].st = FB_HR_FREE;
                }
            }
            break;
        }
        if (!fb_hr_valid(&h)) {
            FAIL("state invalid after op %u", op % 6);
        }
        /* the real slots hold a subset of the model's live requests (a
         * cancelled one may have been given up for room) */
        for (i = 0; i < FB_HR_SLOTS; i++) {
            if (h.slot_state[i] != FB_HR_FREE) {
                r = model_find(h.slot_id[i]);
                if (!r || (uint64_t)r->st != h.slot_state[i]) {
                    FAIL("slot %d (id %llu) disagrees with the model", i,
                         (unsigned long long)h.slot_id[i]);
                }
            }
        }
        /* model requests the real code gave up must have been cancelled */
        for (i = 0; i < nm; i++) {
            if (m[i].st != FB_HR_FREE &&
                fb_hr_state_of(&h, m[i].id) == FB_HR_FREE) {
                if (m[i].st != FB_HR_CANCELLED) {
                    FAIL("live request %llu lost", (unsigned long long)m[i].id);
                }
                m[i].st = FB_HR_FREE;
            }
        }
    }
    return 0;
}
