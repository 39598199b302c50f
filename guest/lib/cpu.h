/* CPUID helpers shared by the UEFI stub and the core. */
#ifndef GUEST_CPU_H
#define GUEST_CPU_H
#include <stdint.h>

static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

/* physical address bits of this CPU (36 when it does not say) */
static inline uint32_t cpu_phys_bits(void)
{
	uint32_t a, b, c, d;

	cpuid(0x80000000, &a, &b, &c, &d);
	if (a < 0x80000008)
		return 36;
	cpuid(0x80000008, &a, &b, &c, &d);
	return a & 0xff;
}

/* bytes our identity map covers: the physical limit, at most 1 TiB */
static inline uint64_t identity_map_limit(void)
{
	uint32_t bits = cpu_phys_bits();

	return bits >= 40 ? 1ULL << 40 : 1ULL << bits;
}
#endif
