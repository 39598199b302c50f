/* The guest core: set up the machine, then run the test named by test=. */
#include "bootinfo.h"
#include "desc.h"
#include "serial.h"
#include "printf.h"
#include "report.h"
#include "string.h"
#include "args.h"
#include "fwcfg.h"
#include "acpi.h"
#include "timer.h"
#include "pages.h"
#include "test.h"
#include "io.h"

static struct boot_info *boot_info;

const struct boot_info *guest_boot_info(void)
{
	return boot_info;
}

static void load_args(void)
{
	static char buf[1024];
	s64 n = fwcfg_read_file("opt/fastballoon/args", buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = '\0';
	if (args_parse(&guest_args, buf))
		panic("guest arguments too long or too many: '%s'", buf);
}

static const struct guest_test *find_test(const char *name)
{
	for (const struct guest_test *t = __start_tests; t < __stop_tests; t++)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

static void list_tests(void)
{
	for (const struct guest_test *t = __start_tests; t < __stop_tests; t++)
		printf("  %-28s %s\n", t->name, t->desc);
}

void guest_main(struct boot_info *bi)
{
	const struct guest_test *t;
	const char *name;

	boot_info = bi;
	serial_init(COM1);
	serial_init(COM2);
	desc_init();
	paging_init(bi, phys_to_virt(bi->pt_start), bi->pt_pages);
	irq_init();
	acpi_init(bi->rsdp);
	timer_init();
	mm_init(bi);
	load_args();

	printf("\nfastballoon guest: accel=%s timer=%s tsc=%llu kHz ram=%llu MiB "
	       "usable=%llu MiB free=%llu MiB exit-attempts=%u\n",
	       accel_name(), timer_source(), (unsigned long long)(tsc_hz / 1000),
	       (unsigned long long)(fwcfg_ram_size() >> 20),
	       (unsigned long long)(guest_pool.nr_usable >> (20 - PAGE_SHIFT)),
	       (unsigned long long)(pool_free_pages(&guest_pool) >> (20 - PAGE_SHIFT)),
	       bi->exit_attempts);

	name = arg_get("test");
	if (!name || !*name) {
		printf("no test= argument; tests in this image:\n");
		list_tests();
		report(false, "a test was named");
		exit_guest(report_summary());
	}
	t = find_test(name);
	if (!t) {
		printf("unknown test '%s'; tests in this image:\n", name);
		list_tests();
		report(false, "test '%s' exists", name);
		exit_guest(report_summary());
	}
	t->fn();
	exit_guest(report_summary());
}
