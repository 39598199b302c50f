/* fw_cfg over I/O ports: file directory lookup and file reads. */
#include "fwcfg.h"
#include "io.h"
#include "string.h"

#define FW_CFG_SEL 0x510
#define FW_CFG_DATA 0x511
#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_RAM_SIZE 0x03
#define FW_CFG_FILE_DIR 0x19

static inline u32 be32(u32 v) { return __builtin_bswap32(v); }
static inline u16 be16(u16 v) { return __builtin_bswap16(v); }

static void fwcfg_select(u16 key)
{
	outw(key, FW_CFG_SEL);
}

static void fwcfg_read(void *buf, u64 len)
{
	u8 *p = buf;

	while (len--)
		*p++ = inb(FW_CFG_DATA);
}

bool fwcfg_present(void)
{
	char sig[4];

	fwcfg_select(FW_CFG_SIGNATURE);
	fwcfg_read(sig, 4);
	return !memcmp(sig, "QEMU", 4);
}

s64 fwcfg_find(const char *name, u16 *select)
{
	u32 count;

	if (!fwcfg_present())
		return -1;
	fwcfg_select(FW_CFG_FILE_DIR);
	fwcfg_read(&count, 4);
	count = be32(count);
	for (u32 i = 0; i < count; i++) {
		struct {
			u32 size;
			u16 select;
			u16 reserved;
			char name[56];
		} __packed f;

		fwcfg_read(&f, sizeof(f));
		f.name[55] = '\0';
		if (!strcmp(f.name, name)) {
			*select = be16(f.select);
			return be32(f.size);
		}
	}
	return -1;
}

s64 fwcfg_read_file(const char *name, void *buf, u64 len)
{
	u16 sel;
	s64 size = fwcfg_find(name, &sel);

	if (size < 0)
		return -1;
	if ((u64)size < len)
		len = size;
	fwcfg_select(sel);
	fwcfg_read(buf, len);
	return len;
}

u64 fwcfg_ram_size(void)
{
	u64 v = 0;

	if (!fwcfg_present())
		return 0;
	fwcfg_select(FW_CFG_RAM_SIZE);
	fwcfg_read(&v, 8);
	return v;
}
