# Sourced by tests/run and tests/boot: the QEMU command line for one guest boot.
# Inputs: QEMU, ACCEL_USED, OVMF_CODE, ESP; function args: guest args, extra QEMU args (one string).
# Output: the array QEMU_CMD.

: "${QEMU:=/usr/bin/qemu-system-x86_64}"
: "${OVMF_CODE:=/usr/share/OVMF/OVMF_CODE_4M.fd}"
: "${ESP:=build/esp.img}"

qemu_cmdline() {
	local gargs="$1" extra="$2"
	local -a ex
	# extra args are word-split like a shell command line would be
	eval "ex=($extra)"
	QEMU_CMD=("$QEMU" -machine q35 -accel "${ACCEL_USED:-tcg}"
		-display none -nodefaults -no-reboot
		-drive "if=pflash,format=raw,readonly=on,file=$OVMF_CODE"
		-drive "format=raw,file=$ESP,snapshot=on"
		-device isa-debug-exit,iobase=0xf4,iosize=4
		-fw_cfg "name=opt/fastballoon/args,string=${gargs//,/,,}")
	case " $extra " in
	*" -m "*) ;;
	*) QEMU_CMD+=(-m 512) ;;
	esac
	QEMU_CMD+=("${ex[@]}")
}
