/*
 * kvm-clear-log: what arming dirty tracking costs on KVM (docs/protocol.md,
 * "Why this is safe"). Before each FREE_PAGES request the patched QEMU
 * clears KVM's dirty log for every 1 GiB clear_bmap chunk of guest RAM
 * (KVM_CLEAR_DIRTY_LOG, manual protection with KVM_DIRTY_LOG_INITIALLY_SET,
 * QEMU 7.2's default). This times those ioctls the way QEMU issues them:
 *
 *   1. a VM with one memslot of N GiB; a vCPU in 32-bit protected mode
 *      writes one word to every 4 KiB page, so KVM maps all of it;
 *   2. dirty logging on (KVM_MEM_LOG_DIRTY_PAGES), one KVM_GET_DIRTY_LOG:
 *      with INITIALLY_SET every page reads dirty, as in migration's round 1;
 *   3. KVM_CLEAR_DIRTY_LOG per 1 GiB chunk with those bits (a dirty chunk);
 *   4. KVM_GET_DIRTY_LOG again (nothing written since) and one clear of a
 *      chunk with no bit set (what arming costs for a chunk in later rounds).
 *
 * usage: kvm-clear-log [GIB]   (1..3, default 3: 32-bit code reaches 4 GiB)
 * Prints "KVMCLEAR key=value ..." lines; exits 2 when KVM cannot run a vCPU.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define PAGE    4096ull
#define CHUNK   (1ull << 30)
#define CODE    0x1000u

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void die(int code, const char *what)
{
	fprintf(stderr, "kvm-clear-log: %s: %s\n", what, strerror(errno));
	exit(code);
}

/* mov edi, 0x100000; 1: mov [edi], eax; add edi, 4096; cmp edi, END; jb 1b; hlt */
static void put_code(uint8_t *mem, uint32_t end)
{
	uint8_t c[] = { 0xbf, 0, 0, 0x10, 0, 0x89, 0x07, 0x81, 0xc7, 0, 0x10, 0, 0,
			0x81, 0xff, 0, 0, 0, 0, 0x72, 0xf0, 0xf4 };

	memcpy(c + 15, &end, 4);
	memcpy(mem + CODE, c, sizeof(c));
}

static void flat_protected_mode(int vcpu)
{
	struct kvm_segment seg = { .base = 0, .limit = 0xffffffff, .selector = 8,
				   .present = 1, .type = 11, .db = 1, .s = 1, .g = 1 };
	struct kvm_sregs s;
	struct kvm_regs r = { .rip = CODE, .rflags = 2 };

	if (ioctl(vcpu, KVM_GET_SREGS, &s))
		die(2, "KVM_GET_SREGS");
	s.cs = seg;
	seg.type = 3;
	seg.selector = 16;
	s.ds = s.es = s.fs = s.gs = s.ss = seg;
	s.cr0 |= 1;
	if (ioctl(vcpu, KVM_SET_SREGS, &s) || ioctl(vcpu, KVM_SET_REGS, &r))
		die(2, "KVM_SET_SREGS/REGS");
}

static double clear(int vm, uint64_t *bm, uint64_t first, uint64_t npages)
{
	struct kvm_clear_dirty_log cl = {
		.slot = 0, .first_page = first, .num_pages = (uint32_t)npages,
		.dirty_bitmap = bm + first / 64,
	};
	double t0 = now_ms();

	if (ioctl(vm, KVM_CLEAR_DIRTY_LOG, &cl))
		die(1, "KVM_CLEAR_DIRTY_LOG");
	return now_ms() - t0;
}

static uint64_t get_log(int vm, uint64_t *bm, size_t words)
{
	struct kvm_dirty_log dl = { .slot = 0, .dirty_bitmap = bm };
	uint64_t n = 0;

	memset(bm, 0, words * 8);
	if (ioctl(vm, KVM_GET_DIRTY_LOG, &dl))
		die(1, "KVM_GET_DIRTY_LOG");
	for (size_t i = 0; i < words; i++)
		n += __builtin_popcountll(bm[i]);
	return n;
}

int main(int argc, char **argv)
{
	uint64_t gib = argc > 1 ? strtoull(argv[1], NULL, 0) : 3;
	uint64_t size = gib * CHUNK, pages = size / PAGE, dirty;
	struct kvm_enable_cap cap = { .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 };
	struct kvm_userspace_memory_region slot = { .slot = 0 };
	struct utsname u;
	struct kvm_run *run;
	uint64_t *bm;
	size_t words = pages / 64;
	int kvm, vm, vcpu, caps;
	double t0, touch_ms;
	uint8_t *mem;

	if (gib < 1 || gib > 3) {
		fprintf(stderr, "usage: kvm-clear-log [GIB]  (1..3)\n");
		return 2;
	}
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die(2, "/dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die(2, "KVM_CREATE_VM");
	caps = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	if (caps <= 0 || !(caps & KVM_DIRTY_LOG_INITIALLY_SET)) {
		fprintf(stderr, "kvm-clear-log: no manual dirty log protection with INITIALLY_SET (0x%x)\n", caps);
		return 2;
	}
	cap.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET;
	if (ioctl(vm, KVM_ENABLE_CAP, &cap))
		die(2, "KVM_ENABLE_CAP manual protect");
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die(2, "mmap");
	slot.memory_size = size;
	slot.userspace_addr = (uintptr_t)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot))
		die(2, "KVM_SET_USER_MEMORY_REGION");
	put_code(mem, (uint32_t)(size - PAGE));

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		die(2, "KVM_CREATE_VCPU");
	run = mmap(NULL, ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE,
		   MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die(2, "mmap kvm_run");
	flat_protected_mode(vcpu);
	t0 = now_ms();
	if (ioctl(vcpu, KVM_RUN, 0) || run->exit_reason != KVM_EXIT_HLT) {
		fprintf(stderr, "kvm-clear-log: the vCPU did not reach hlt (exit %u)\n",
			run->exit_reason);
		return 2;
	}
	touch_ms = now_ms() - t0;

	slot.flags = KVM_MEM_LOG_DIRTY_PAGES;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot))
		die(1, "dirty logging on");
	bm = calloc(words, 8);
	if (!bm)
		die(1, "calloc");
	dirty = get_log(vm, bm, words);
	uname(&u);
	printf("KVMCLEAR host_kernel=%s gib=%llu touch_ms=%.0f dirty_pages=%llu\n", u.release,
	       (unsigned long long)gib, touch_ms, (unsigned long long)dirty);
	for (uint64_t c = 0; c < gib; c++)
		printf("KVMCLEAR chunk=%llu state=dirty clear_ms=%.3f\n", (unsigned long long)c,
		       clear(vm, bm, c * CHUNK / PAGE, CHUNK / PAGE));
	dirty = get_log(vm, bm, words);
	printf("KVMCLEAR chunk=0 state=clean dirty_pages=%llu clear_ms=%.3f\n",
	       (unsigned long long)dirty, clear(vm, bm, 0, CHUNK / PAGE));
	return 0;
}
