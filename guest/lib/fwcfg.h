/* QEMU's fw_cfg through its I/O ports (0x510 selector, 0x511 data). */
#ifndef GUEST_FWCFG_H
#define GUEST_FWCFG_H
#include "types.h"

bool fwcfg_present(void);
/* size of the named file and its selector, or -1 if absent */
s64 fwcfg_find(const char *name, u16 *select);
/* read up to len bytes of a file into buf; returns bytes read or -1 */
s64 fwcfg_read_file(const char *name, void *buf, u64 len);
u64 fwcfg_ram_size(void);	/* bytes of RAM QEMU was given (-m) */
#endif
