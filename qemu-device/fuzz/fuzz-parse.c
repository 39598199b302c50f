/*
 * libFuzzer target over the record parser and run builder. The input's
 * first byte picks the allowed types and queue kind, the next bytes cut
 * the rest into segments (descriptors). Checks, besides the sanitizers:
 * every run lies in its RAM range, is 4 KiB aligned, and the pages it
 * covers are exactly those the naive reference decoder says were named.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include "fb-ref.h"

static const struct fb_ram_range ram[] = {
    { 0, 0xa0000 }, { 0x100000, 0x1f00000 }, { 0x2000000, 0x1000000 },
    { 0x3800000, 0x1ff000 }, { 0x3a00000, 0x200000 }, { 0x3c00000, 0x100000 },
};
#define NRAM (sizeof(ram) / sizeof(ram[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ref ref;
    static struct real real;
    struct fb_seg segs[16];
    struct fb_parse_cfg cfg;
    size_t nseg = 0, pos, ncut, i;
    uint8_t mode;

    if (size < 2) {
        return 0;
    }
    mode = data[0];
    cfg.allowed_types = (mode & 7) << 1;   /* bits for types 1..3 */
    cfg.response_queue = (mode >> 3) & 1;
    cfg.has_writable = (mode & 0xf0) == 0xf0;
    ncut = data[1] % 16;
    data += 2;
    size -= 2;
    if (size > REF_WIN_PAGES) {
        return 0;                           /* keep the reference cheap */
    }
    /* cut points: derived from the data length, spread by the cut count */
    pos = 0;
    for (i = 0; i < ncut && pos < size; i++) {
        size_t n = 1 + (size * (i + 1) * 7919 / (ncut + 1)) % (size - pos);

        segs[nseg].base = data + pos;
        segs[nseg].len = n;
        nseg++;
        pos += n;
    }
    if (pos < size) {
        segs[nseg].base = data + pos;
        segs[nseg].len = size - pos;
        nseg++;
    }

    ref_decode(&ref, data, size, cfg.allowed_types, cfg.response_queue,
               cfg.has_writable, ram, NRAM);
    real_decode(&real, segs, nseg, &cfg, ram, NRAM);
    if (real.wrong_range || real.unaligned || real.outside_window) {
        fprintf(stderr, "run outside its RAM range or unaligned\n");
        abort();
    }
    if (memcmp(ref.named, real.named, sizeof(ref.named))) {
        fprintf(stderr, "named pages differ from the reference\n");
        abort();
    }
    if (ref.bad != real.bad || ref.records != real.records) {
        fprintf(stderr, "bad %llu/%llu records %llu/%llu\n",
                (unsigned long long)ref.bad, (unsigned long long)real.bad,
                (unsigned long long)ref.records,
                (unsigned long long)real.records);
        abort();
    }
    return 0;
}
