/* 16550 UART, polled: interrupts stay off so output works from any context. */
#include "serial.h"
#include "io.h"

enum { THR = 0, RBR = 0, IER = 1, FCR = 2, LCR = 3, MCR = 4, LSR = 5 };

void serial_init(u16 port)
{
	outb(0x00, port + IER);
	outb(0x80, port + LCR);		/* DLAB: set the divisor */
	outb(0x01, port + 0);		/* 115200 baud */
	outb(0x00, port + 1);
	outb(0x03, port + LCR);		/* 8N1 */
	outb(0x07, port + FCR);		/* FIFOs on and cleared */
	outb(0x03, port + MCR);		/* DTR, RTS */
}

void serial_putc(u16 port, char c)
{
	/* bounded wait: an absent UART must not hang the guest */
	for (int i = 0; i < 100000 && !(inb(port + LSR) & 0x20); i++)
		;
	outb((u8)c, port + THR);
}

bool serial_getc(u16 port, char *c)
{
	if (!(inb(port + LSR) & 0x01))
		return false;
	*c = (char)inb(port + RBR);
	return true;
}

void serial_write(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			serial_putc(COM1, '\r');
		serial_putc(COM1, *s);
	}
}
