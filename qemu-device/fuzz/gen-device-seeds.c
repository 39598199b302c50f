/*
 * gen-device-seeds: hand-written seed inputs for QEMU's generic-fuzz target
 * on the patched virtio-balloon-pci (qemu-device/fuzz/run-device-fuzz.sh).
 *
 * usage: gen-device-seeds OUTDIR
 * writes OUTDIR/fast/NN-name and OUTDIR/reporting/NN-name.
 *
 * Each input is generic-fuzz's command stream (QEMU 7.2
 * tests/qtest/fuzz/generic_fuzz.c): commands separated by "FUZZ", the first
 * byte of a command its opcode. The device is driven through its legacy
 * I/O BAR (the only PIO region QEMU_FUZZ_OBJECTS='virtio*' matches, so
 * region index 0), the way a legacy driver would: status, features, one
 * queue PFN per queue, DRIVER_OK, then buffers. Guest RAM cannot be
 * written by a command; generic-fuzz fills every region the device reads
 * by DMA with the next DMA pattern, in order, once per command
 * (QEMU_AVOID_DOUBLE_FETCH=1). So a buffer is "posted" by clearing the
 * patterns and adding, in the order the split-ring code reads them:
 * avail->idx, avail->ring[slot], the descriptor(s) and each buffer's bytes,
 * then writing the queue number to QUEUE_NOTIFY.
 *
 * The records are those our guest sends (guest/: BITMAP and RANGES inflate
 * and deflate, the host_resp_vq STATUS answer) and the malformed ones of
 * protocol.md's FB-V12 table; they are written by hand here, not recorded
 * from a guest run (docs/reliability.md says so).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fb-proto.h"

enum { OP_IN, OP_OUT, OP_READ, OP_WRITE, OP_PCI_READ, OP_PCI_WRITE,
       OP_DISABLE_PCI, OP_ADD_DMA_PATTERN, OP_CLEAR_DMA_PATTERNS,
       OP_CLOCK_STEP };

/* legacy virtio-pci header (MSI-X not enabled: config at 20) */
#define L_GUEST_FEATURES 4
#define L_QUEUE_PFN      8
#define L_QUEUE_SEL      14
#define L_QUEUE_NOTIFY   16
#define L_STATUS         18
#define L_ISR            19
#define L_CONFIG         20

#define QSIZE     128                   /* virtio-balloon's queues */
#define RING_BASE 0x100000u             /* queue q's ring at RING_BASE + q * RING_GAP */
#define RING_GAP  0x4000u
#define BUF_BASE  0x200000u             /* buffers */

#define F_STATS_VQ   (1u << 1)
#define F_HINT       (1u << 3)
#define F_POISON     (1u << 4)
#define F_REPORTING  (1u << 5)
#define F_FAST       ((1u << FB_F_PAGE_BITMAP) | (1u << FB_F_PAGE_RANGES) | \
                      (1u << FB_F_HOST_REQ))

static void fb_put_le32(uint8_t *p, uint32_t v)
{
    fb_put_le16(p, (uint16_t)v);
    fb_put_le16(p + 2, (uint16_t)(v >> 16));
}

struct input {
    uint8_t b[4096];
    size_t n;
    unsigned avail[8];                  /* buffers posted per queue so far */
    uint32_t next_buf;
};

static void die(const char *what)
{
    fprintf(stderr, "gen-device-seeds: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void cmd(struct input *in, uint8_t op, const void *arg, size_t len)
{
    if (in->n + 4 + 1 + len > sizeof(in->b)) {
        fprintf(stderr, "gen-device-seeds: input too long\n");
        exit(1);
    }
    if (in->n) {
        memcpy(in->b + in->n, "FUZZ", 4);
        in->n += 4;
    }
    in->b[in->n++] = op;
    memcpy(in->b + in->n, arg, len);
    in->n += len;
}

static void out(struct input *in, unsigned size, uint16_t off, uint32_t val)
{
    uint8_t a[8] = { size, 0 };          /* size 0 byte, 1 word, 2 long; region 0 */

    a[2] = off; a[3] = off >> 8;
    fb_put_le32(a + 4, val);
    cmd(in, OP_OUT, a, sizeof(a));
}

static void inp(struct input *in, unsigned size, uint16_t off)
{
    uint8_t a[4] = { size, 0, off, off >> 8 };

    cmd(in, OP_IN, a, sizeof(a));
}

static void pattern(struct input *in, const void *data, size_t len)
{
    uint8_t a[2 + 512] = { 0, 0 };      /* index 0, stride 0: the bytes as they are */

    memcpy(a + 2, data, len);
    cmd(in, OP_ADD_DMA_PATTERN, a, 2 + len);
}

static void pci_read(struct input *in, unsigned size, uint8_t off)
{
    uint8_t a[3] = { size, 0, off };

    cmd(in, OP_PCI_READ, a, sizeof(a));
}

/* ACK, DRIVER, features, every queue's PFN, DRIVER_OK */
static void init(struct input *in, uint32_t features, unsigned nqueues)
{
    unsigned q;

    memset(in, 0, sizeof(*in));
    in->next_buf = BUF_BASE;
    pci_read(in, 2, 0);                 /* vendor/device id, as a driver probes */
    out(in, 0, L_STATUS, 0);
    out(in, 0, L_STATUS, 1);
    out(in, 0, L_STATUS, 3);
    inp(in, 2, 0);                      /* host features */
    out(in, 2, L_GUEST_FEATURES, features);
    for (q = 0; q < nqueues; q++) {
        out(in, 1, L_QUEUE_SEL, q);
        out(in, 2, L_QUEUE_PFN, (RING_BASE + q * RING_GAP) >> 12);
    }
    out(in, 0, L_STATUS, 7);
}

struct seg {
    const uint8_t *data;                /* NULL: device-writable, len bytes */
    uint32_t len;
};

/*
 * Post one buffer of segments on queue q and notify: the DMA patterns are
 * what the device reads, in order.
 */
static void post(struct input *in, unsigned q, const struct seg *segs, unsigned nseg)
{
    uint8_t idx[2], slot[2], desc[16];
    unsigned i, n = in->avail[q]++;

    cmd(in, OP_CLEAR_DMA_PATTERNS, NULL, 0);
    idx[0] = n + 1; idx[1] = (n + 1) >> 8;
    pattern(in, idx, 2);                /* avail->idx */
    slot[0] = n % QSIZE; slot[1] = 0;
    pattern(in, slot, 2);               /* avail->ring[n]: head descriptor n */
    for (i = 0; i < nseg; i++) {
        uint16_t flags = (i + 1 < nseg ? 1 : 0) | (segs[i].data ? 0 : 2);
        uint16_t next = (n + i + 1) % QSIZE;

        fb_put_le64(desc, in->next_buf);
        fb_put_le32(desc + 8, segs[i].len);
        desc[12] = flags; desc[13] = flags >> 8;
        desc[14] = next; desc[15] = next >> 8;
        pattern(in, desc, 16);
        if (segs[i].data) {
            pattern(in, segs[i].data, segs[i].len);
        }
        in->next_buf += (segs[i].len + 0xfff) & ~0xfffu;
    }
    idx[0] = idx[1] = 0;
    pattern(in, idx, 2);                /* avail->flags, used_event */
    out(in, 1, L_QUEUE_NOTIFY, q);
    inp(in, 0, L_ISR);                  /* the driver acks the interrupt */
}

static void post1(struct input *in, unsigned q, const uint8_t *data, uint32_t len)
{
    struct seg s = { data, len };

    post(in, q, &s, 1);
}

static size_t hdr(uint8_t *p, unsigned type, unsigned shift, unsigned flags,
                  uint64_t req_id, uint64_t start_pfn, uint64_t len)
{
    memset(p, 0, FB_HDR_SIZE);
    p[FB_HDR_TYPE] = type;
    p[FB_HDR_PAGE_SHIFT] = shift;
    p[FB_HDR_FLAGS] = flags;
    fb_put_le64(p + FB_HDR_REQ_ID, req_id);
    fb_put_le64(p + FB_HDR_START_PFN, start_pfn);
    fb_put_le64(p + FB_HDR_LEN, len);
    return FB_HDR_SIZE;
}

static size_t bitmap(uint8_t *p, unsigned shift, uint64_t start, const uint8_t *bits, size_t len)
{
    size_t n = hdr(p, FB_REC_BITMAP, shift, 0, 0, start, len);

    memcpy(p + n, bits, len);
    return n + len;
}

static size_t ranges(uint8_t *p, unsigned shift, const uint64_t *r, unsigned nr)
{
    size_t n = hdr(p, FB_REC_RANGES, shift, 0, 0, 0, nr * FB_RANGE_SIZE);
    unsigned i;

    for (i = 0; i < nr; i++) {
        fb_put_le64(p + n, r[2 * i]);
        fb_put_le64(p + n + 8, r[2 * i + 1]);
        n += 16;
    }
    return n;
}

static void save(const char *dir, const char *name, const struct input *in)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(in->b, 1, in->n, f) != in->n || fclose(f)) {
        die(path);
    }
}

static void mkdir_p(const char *d)
{
    if (mkdir(d, 0777) && errno != EEXIST) {
        die(d);
    }
}

/* virtio-balloon-pci with page-bitmap, page-ranges, host-req (and
 * free-page-bitmap, a host-side property): inflateq 0, deflateq 1,
 * statsq 2, host_req_vq 3, host_resp_vq 4 */
static void fast_seeds(const char *dir)
{
    static const uint8_t ones[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0x0f, 0xf0, 0x00, 0x01, 0x80, 0x00, 0x00, 0xaa };
    uint8_t r[1024], r2[512];
    uint64_t rg[6];
    struct input in;
    size_t n;

    init(&in, F_STATS_VQ | F_FAST, 5);
    for (n = 0; n < 24; n += 4) {
        inp(&in, 2, L_CONFIG + n);      /* config incl. discard_granule_shift */
    }
    save(dir, "01-init-config", &in);

    init(&in, F_STATS_VQ | F_FAST, 5);
    n = bitmap(r, 12, 0x300, ones, 16);
    post1(&in, 0, r, n);
    out(&in, 2, L_CONFIG + 4, 90);      /* actual */
    save(dir, "02-inflate-bitmap", &in);

    init(&in, F_STATS_VQ | F_FAST, 5);
    rg[0] = 0x400; rg[1] = 16; rg[2] = 0x480; rg[3] = 1; rg[4] = 0x401; rg[5] = 4;
    n = ranges(r, 12, rg, 3);
    post1(&in, 0, r, n);
    post1(&in, 1, r, n);                /* and deflate them */
    save(dir, "03-inflate-deflate-ranges", &in);

    init(&in, F_STATS_VQ | F_FAST, 5);
    n = bitmap(r, 21, 1, ones, 8);      /* 2 MiB pages */
    rg[0] = 0x10; rg[1] = 2;
    n += ranges(r + n, 13, rg, 1);      /* both formats in one buffer */
    post1(&in, 0, r, n);
    save(dir, "04-inflate-mixed-shifts", &in);

    init(&in, F_STATS_VQ | F_FAST, 5);  /* a record across two descriptors */
    rg[0] = 0x500; rg[1] = 8; rg[2] = 0x600; rg[3] = 3;
    n = ranges(r, 12, rg, 2);
    {
        struct seg s[2] = { { r, 20 }, { r + 20, (uint32_t)(n - 20) } };

        post(&in, 0, s, 2);
    }
    save(dir, "05-inflate-split-record", &in);

    init(&in, F_STATS_VQ | F_FAST, 5);  /* the FB-V12 table, one record each */
    n = bitmap(r, 11, 0x300, ones, 8);                      /* shift < 12 */
    n += bitmap(r + n, 31, 0x300, ones, 8);                 /* shift > 30 */
    n += bitmap(r + n, 12, 0x300, ones, 7);                 /* len % 8 */
    n += hdr(r + n, FB_REC_STATUS, 12, 0, 0, 0, 8);         /* STATUS on inflateq */
    fb_put_le64(r + n, 0); n += 8;
    n += hdr(r + n, FB_REC_RANGES, 12, 1, 7, 3, 16);        /* flags, req_id, start_pfn */
    fb_put_le64(r + n, 0x700); fb_put_le64(r + n + 8, 0); n += 16;   /* count 0 */
    rg[0] = UINT64_MAX >> 12; rg[1] = 2;                    /* past 2^64 */
    n += ranges(r + n, 12, rg, 1);
    n += hdr(r + n, 9, 12, 0, 0, 0, 0);                     /* unknown type */
    n += hdr(r + n, FB_REC_BITMAP, 12, 0, 0, 0x300, 4096);  /* len past the buffer */
    post1(&in, 0, r, n);
    post1(&in, 1, r, 20);                                   /* truncated header */
    save(dir, "06-malformed-records", &in);

    init(&in, F_STATS_VQ, 3);           /* fast features declined: stock PFNs */
    for (n = 0; n < 64; n++) {
        fb_put_le32(r2 + 4 * n, 0x800 + n);
    }
    post1(&in, 0, r2, 256);
    post1(&in, 1, r2, 128);
    save(dir, "07-stock-pfns", &in);

    init(&in, F_STATS_VQ | F_FAST, 5);  /* stats: tag 0 swap-in, tag 7 total memory */
    memset(r, 0, 20);
    r[0] = 0; fb_put_le64(r + 2, 1234);
    r[10] = 7; fb_put_le64(r + 12, 512u << 20);
    post1(&in, 2, r, 20);
    out(&in, 2, L_CONFIG, 64);          /* a num_pages write is ignored */
    out(&in, 2, L_CONFIG + 16, 21);     /* writes to discard_granule_shift are ignored */
    save(dir, "08-stats-config-writes", &in);

    init(&in, F_STATS_VQ | F_FAST, 5);  /* host_req_vq buffer, answers on host_resp_vq */
    {
        struct seg s = { NULL, FB_HOST_REQ_SIZE * 4 };

        post(&in, 3, &s, 1);
    }
    n = hdr(r, FB_REC_STATUS, 12, FB_FLAG_DONE, 1, 0, 8);   /* unknown id */
    fb_put_le64(r + n, 0); n += 8;
    rg[0] = 0x900; rg[1] = 4;
    n += ranges(r + n, 12, rg, 1);                          /* RANGES answer, req_id 0 */
    post1(&in, 4, r, n);
    save(dir, "09-hostreq-answers", &in);

    init(&in, F_STATS_VQ | F_FAST, 5);  /* reset with a buffer outstanding, then again */
    n = bitmap(r, 12, 0x300, ones, 16);
    post1(&in, 0, r, n);
    out(&in, 0, L_STATUS, 0);
    out(&in, 0, L_STATUS, 1);
    out(&in, 0, L_STATUS, 3);
    out(&in, 2, L_GUEST_FEATURES, F_FAST);
    out(&in, 1, L_QUEUE_SEL, 0);
    out(&in, 2, L_QUEUE_PFN, RING_BASE >> 12);
    out(&in, 0, L_STATUS, 7);
    in.avail[0] = 0;
    post1(&in, 0, r, n);
    save(dir, "10-reset-and-again", &in);
}

/* virtio-balloon-pci with free-page-reporting, free-page-hint (iothread):
 * inflateq 0, deflateq 1, statsq 2, free_page_vq 3, reporting_vq 4 */
static void reporting_seeds(const char *dir)
{
    uint8_t r[512], id[4];
    struct input in;
    unsigned i;

    init(&in, F_STATS_VQ | F_HINT | F_POISON | F_REPORTING, 5);
    for (i = 0; i < 20; i += 4) {
        inp(&in, 2, L_CONFIG + i);
    }
    save(dir, "01-init-config", &in);

    init(&in, F_STATS_VQ | F_HINT | F_REPORTING, 5);
    {
        struct seg s[2] = { { NULL, 0x200000 }, { NULL, 0x1000 } };   /* reported pages */

        post(&in, 4, s, 2);
    }
    save(dir, "02-report", &in);

    init(&in, F_STATS_VQ | F_HINT | F_REPORTING, 5);
    fb_put_le32(id, 1);                 /* VIRTIO_BALLOON_CMD_ID_DONE */
    post1(&in, 3, id, 4);
    fb_put_le32(id, 0x80000001u);       /* a hint for a command id never asked for */
    {
        struct seg s[2] = { { id, 4 }, { NULL, 0x1000 } };

        post(&in, 3, s, 2);
    }
    out(&in, 2, L_CONFIG + 12, 0xaa);   /* poison_val */
    save(dir, "03-hint", &in);

    init(&in, F_STATS_VQ | F_POISON | F_REPORTING, 5);
    for (i = 0; i < 32; i++) {
        fb_put_le32(r + 4 * i, 0xa00 + i);
    }
    post1(&in, 0, r, 128);
    post1(&in, 1, r, 128);
    save(dir, "04-stock-pfns", &in);
}

int main(int argc, char **argv)
{
    char d[4096];

    if (argc != 2) {
        fprintf(stderr, "usage: gen-device-seeds OUTDIR\n");
        return 2;
    }
    mkdir_p(argv[1]);
    snprintf(d, sizeof(d), "%s/fast", argv[1]);
    mkdir_p(d);
    fast_seeds(d);
    snprintf(d, sizeof(d), "%s/reporting", argv[1]);
    mkdir_p(d);
    reporting_seeds(d);
    return 0;
}
