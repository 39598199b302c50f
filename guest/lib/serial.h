/* Polled 16550 UARTs: COM1 is the console, COM2 the host agent's channel. */
#ifndef GUEST_SERIAL_H
#define GUEST_SERIAL_H
#include "types.h"

#define COM1 0x3f8
#define COM2 0x2f8

void serial_init(u16 port);
void serial_putc(u16 port, char c);
bool serial_getc(u16 port, char *c);	/* false when nothing is waiting */
void serial_write(const char *s);	/* to the console, \n -> \r\n */
#endif
