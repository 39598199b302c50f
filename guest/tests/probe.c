/* The runner's accelerator probe: boots, checks the CPU runs, exits. */
#include "report.h"
#include "timer.h"
#include "test.h"

static void probe(void)
{
	report(tsc_hz > 0, "guest booted and calibrated its clock (%s)", accel_name());
}
GUEST_TEST("probe", probe, "boot and exit at once (accelerator probe)");
