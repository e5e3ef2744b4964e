// SPDX-License-Identifier: GPL-2.0
// A bare-metal guest for kemuctl's multi-disk test: drives every virtio-blk device it
// finds in the 8 virtio-mmio slots (virtio 1.x, split queue), in slot order. For each:
// reads sector 0 (a NUL-terminated label the host wrote), prints "slot N: LABEL"; then,
// on a writable disk, writes "slot N was here" to sector 1, reads it back and checks it;
// on a read-only disk (VIRTIO_BLK_F_RO) checks that the write fails with IOERR and prints
// "slot N: read-only"; then flushes. Ends with "disks: K" and power-off; a failure
// powers off through the SiFive test device with failure code step * 256 + slot.
#include "virtio-blk.h"

__asm__(".section .text.init\n.globl _start\n_start:\n  li sp, 0x80100000\n  call main\n1: j 1b\n");

#define SLOT_BASE(n) (0x10001000UL + 0x1000UL * (n))
enum { F_RO = 1 << 5 };

/* One queue per slot, so no device ever sees another's rings. */
static struct desc descs[8][QSIZE] __attribute__((aligned(16)));
static struct avail avail[8] __attribute__((aligned(16)));
static struct used used[8] __attribute__((aligned(16)));
static uint16_t last_used[8];
static struct req hdr;
static uint8_t data[512], check[512];
static volatile uint8_t status;
static int slot;

static uint32_t rd(int off) { return *(volatile uint32_t *)(SLOT_BASE(slot) + off); }
static void wr(int off, uint32_t v) { *(volatile uint32_t *)(SLOT_BASE(slot) + off) = v; }

static void fail(uint32_t step)
{
	TEST_DEV = ((step * 256 + (uint32_t)slot) << 16) | 0x3333;
	for (;;)
		;
}

static void putc_uart(char c)
{
	while (!(UART_LSR & 0x20))
		;
	UART_THR = (uint8_t)c;
}

static void puts_uart(const char *s)
{
	for (; *s; s++)
		putc_uart(*s);
}

static void set_desc(struct desc *d, void *addr, uint32_t len, uint16_t flags, uint16_t next)
{
	d->addr = (uint64_t)(uintptr_t)addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* One request: header, optional 512-byte data segment, status byte; returns status. */
static uint8_t request(uint32_t type, uint64_t sector, uint8_t *buf, int step)
{
	struct desc *d = descs[slot];
	int n = 0;
	hdr.type = type;
	hdr.reserved = 0;
	hdr.sector = sector;
	status = 0xff;
	set_desc(&d[0], &hdr, sizeof(hdr), F_NEXT, 1);
	if (buf) {
		set_desc(&d[1], buf, 512, (uint16_t)(F_NEXT | (type == T_IN ? F_WRITE : 0)), 2);
		n = 1;
	}
	set_desc(&d[n + 1], (void *)&status, 1, F_WRITE, 0);
	if (!buf)
		d[0].next = 2;
	avail[slot].ring[avail[slot].idx % QSIZE] = 0;
	__sync_synchronize();
	avail[slot].idx++;
	__sync_synchronize();
	wr(QUEUE_NOTIFY, 0);
	for (uint64_t spins = 0; *(volatile uint16_t *)&used[slot].idx == last_used[slot]; spins++)
		if (spins > 400000000ULL)
			fail(step);
	last_used[slot]++;
	wr(INT_ACK, rd(INT_STATUS));
	return status;
}

static int disk(void)
{
	if (rd(MAGIC) != 0x74726976 || rd(DEVICE_ID) != 2)
		return 0;
	if (rd(VERSION) != 2)
		fail(1);
	wr(STATUS, 0);
	wr(STATUS, S_ACK);
	wr(STATUS, S_ACK | S_DRIVER);
	wr(DEV_FEATURES_SEL, 0);
	int ro = (rd(DEV_FEATURES) & F_RO) != 0;
	wr(DRV_FEATURES_SEL, 0);
	wr(DRV_FEATURES, ro ? F_RO : 0);
	wr(DRV_FEATURES_SEL, 1);
	wr(DRV_FEATURES, 1); /* VERSION_1 */
	wr(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	if (!(rd(STATUS) & S_FEATURES_OK))
		fail(3);
	wr(QUEUE_SEL, 0);
	if (rd(QUEUE_NUM_MAX) < QSIZE)
		fail(4);
	wr(QUEUE_NUM, QSIZE);
	wr(DESC_LO, (uint32_t)(uintptr_t)descs[slot]);
	wr(DESC_HI, 0);
	wr(AVAIL_LO, (uint32_t)(uintptr_t)&avail[slot]);
	wr(AVAIL_HI, 0);
	wr(USED_LO, (uint32_t)(uintptr_t)&used[slot]);
	wr(USED_HI, 0);
	wr(QUEUE_READY, 1);
	wr(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);

	if (request(T_IN, 0, check, 10) != 0)
		fail(11);
	check[63] = 0;
	puts_uart("slot ");
	putc_uart((char)('0' + slot));
	puts_uart(": ");
	puts_uart((const char *)check);
	putc_uart('\n');

	const char *msg = "slot N was here";
	for (int i = 0; i < 512; i++)
		data[i] = 0;
	for (int i = 0; msg[i]; i++)
		data[i] = (uint8_t)(msg[i] == 'N' ? '0' + slot : msg[i]);
	uint8_t st = request(T_OUT, 1, data, 20);
	if (ro) {
		if (st != 1) /* VIRTIO_BLK_S_IOERR */
			fail(22);
		puts_uart("slot ");
		putc_uart((char)('0' + slot));
		puts_uart(": read-only\n");
	} else {
		if (st != 0)
			fail(21);
		if (request(T_IN, 1, check, 30) != 0)
			fail(31);
		for (int i = 0; i < 512; i++)
			if (check[i] != data[i])
				fail(32);
	}
	if (request(T_FLUSH, 0, 0, 40) != 0)
		fail(41);
	return 1;
}

void main(void)
{
	int n = 0;
	for (slot = 0; slot < 8; slot++)
		n += disk();
	puts_uart("disks: ");
	putc_uart((char)('0' + n));
	putc_uart('\n');
	TEST_DEV = 0x5555;
	for (;;)
		;
}
