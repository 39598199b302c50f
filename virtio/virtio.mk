# Included by the Makefile: host unit test of the pure record logic
# (virtio/fb_records.c), run by the unit stage like test-pages/test-args.
$(BUILD)/unit/test-encode: tests/unit/test-encode.c virtio/fb_records.c virtio/fb_records.h tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(UNIT_CFLAGS) -I. -o $@ tests/unit/test-encode.c virtio/fb_records.c
