/* Port I/O, MMIO accessors and barriers (x86-64, identity-mapped memory). */
#ifndef GUEST_IO_H
#define GUEST_IO_H
#include "types.h"

static inline void outb(u8 v, u16 port) { asm volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(u16 v, u16 port) { asm volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outl(u32 v, u16 port) { asm volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u16 inw(u16 port) { u16 v; asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 inl(u16 port) { u32 v; asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

#define barrier() asm volatile("" ::: "memory")
#define mb() asm volatile("mfence" ::: "memory")
#define rmb() asm volatile("lfence" ::: "memory")
#define wmb() asm volatile("sfence" ::: "memory")
static inline void cpu_relax(void) { asm volatile("pause" ::: "memory"); }

static inline u8 readb(const volatile void *a) { return *(const volatile u8 *)a; }
static inline u16 readw(const volatile void *a) { return *(const volatile u16 *)a; }
static inline u32 readl(const volatile void *a) { return *(const volatile u32 *)a; }
static inline u64 readq(const volatile void *a) { return *(const volatile u64 *)a; }
static inline void writeb(u8 v, volatile void *a) { *(volatile u8 *)a = v; }
static inline void writew(u16 v, volatile void *a) { *(volatile u16 *)a = v; }
static inline void writel(u32 v, volatile void *a) { *(volatile u32 *)a = v; }
static inline void writeq(u64 v, volatile void *a) { *(volatile u64 *)a = v; }

/* Physical and virtual addresses are the same: the guest identity-maps everything. */
static inline void *phys_to_virt(u64 pa) { return (void *)(uintptr_t)pa; }
static inline u64 virt_to_phys(const void *va) { return (u64)(uintptr_t)va; }
#endif
