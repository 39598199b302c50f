/*
 * TSC calibration against a fixed-frequency clock: the ACPI PM timer
 * (3.579545 MHz, port from the FADT) or, failing that, PIT channel 2.
 */
#include "timer.h"
#include "acpi.h"
#include "io.h"
#include "string.h"
#include "cpu.h"

#define PM_HZ 3579545ULL
#define PIT_HZ 1193182ULL
#define CAL_MS 100

u64 tsc_hz;
static u64 tsc_base;
static const char *source = "none";

static u16 pm_port;
static bool pm_32bit;

static void pm_find(void)
{
	u8 *fadt = acpi_find_table("FACP");
	u32 len, port32 = 0, flags = 0;

	if (!fadt)
		return;
	memcpy(&len, fadt + 4, 4);
	if (len >= 80)
		memcpy(&port32, fadt + 76, 4);
	if (len >= 116)
		memcpy(&flags, fadt + 112, 4);
	pm_port = (u16)port32;
	pm_32bit = flags & (1 << 8);
}

static u32 pm_read(void)
{
	return inl(pm_port) & (pm_32bit ? 0xffffffffu : 0xffffffu);
}

static u64 calibrate_pm(void)
{
	u32 mask = pm_32bit ? 0xffffffffu : 0xffffffu;
	u64 ticks = PM_HZ * CAL_MS / 1000, elapsed = 0;
	u32 last = pm_read();
	u64 t0 = rdtsc(), t1;

	while (elapsed < ticks) {
		u32 now = pm_read();

		elapsed += (now - last) & mask;
		last = now;
	}
	t1 = rdtsc();
	return (t1 - t0) * PM_HZ / elapsed;
}

static u64 calibrate_pit(void)
{
	u64 count = PIT_HZ * CAL_MS / 1000;	/* fits 16 bits for <= 54 ms */
	u64 t0, t1;

	count = PIT_HZ / 20;			/* 50 ms */
	outb((inb(0x61) & ~0x02) | 0x01, 0x61);	/* gate on, speaker off */
	outb(0xb0, 0x43);			/* ch2, lo/hi, mode 0 */
	outb(count & 0xff, 0x42);
	outb(count >> 8, 0x42);
	t0 = rdtsc();
	while (!(inb(0x61) & 0x20))
		;
	t1 = rdtsc();
	return (t1 - t0) * 20;
}

void timer_init(void)
{
	pm_find();
	if (pm_port) {
		tsc_hz = calibrate_pm();
		source = "acpi-pm";
	} else {
		tsc_hz = calibrate_pit();
		source = "pit";
	}
	tsc_base = rdtsc();
}

u64 now_ns(void)
{
	u64 d = rdtsc() - tsc_base;

	/* split to avoid overflow of d * 1e9 */
	return d / tsc_hz * 1000000000ULL + (d % tsc_hz) * 1000000000ULL / tsc_hz;
}

void udelay(u64 us)
{
	u64 end = now_ns() + us * 1000;

	while (now_ns() < end)
		cpu_relax();
}

void mdelay(u64 ms)
{
	udelay(ms * 1000);
}

const char *timer_source(void)
{
	return source;
}

const char *accel_name(void)
{
	u32 a, b, c, d;
	char sig[13];

	cpuid(1, &a, &b, &c, &d);
	if (!(c & (1u << 31)))
		return "tcg";	/* QEMU's TCG sets no hypervisor bit by default */
	cpuid(0x40000000, &a, &b, &c, &d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	sig[12] = '\0';
	if (!strcmp(sig, "KVMKVMKVM"))
		return "kvm";
	if (!strcmp(sig, "TCGTCGTCGTCG"))
		return "tcg";
	return "unknown";
}
