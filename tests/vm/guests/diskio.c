// SPDX-License-Identifier: GPL-2.0
// A bare-metal virtio-blk driver in miniature (virtio 1.x, virtio-mmio version 2, split
// queue): negotiates VERSION_1, sets up queue 0, writes a pattern to sector 1, reads it
// back, flushes, prints "disk ok" on the UART and powers off. Any failure reports its
// step number through the SiFive test device: (step << 16) | 0x3333.
#include "virtio-blk.h"

static uintptr_t base; /* the virtio-mmio slot holding the disk */
#define SLOT(n, off) (*(volatile uint32_t *)(0x10001000UL + 0x1000UL * (n) + (off)))
#define MMIO(off) (*(volatile uint32_t *)(base + (off)))

static struct desc descs[QSIZE] __attribute__((aligned(16)));
static struct avail avail __attribute__((aligned(2)));
static struct used used __attribute__((aligned(4)));
static struct req hdr;
static uint8_t data[512], check[512];
static volatile uint8_t status;

static void fail(uint32_t step)
{
	TEST_DEV = (step << 16) | 0x3333;
	for (;;)
		;
}

static void puts_uart(const char *s)
{
	for (; *s; s++) {
		while (!(UART_LSR & 0x20))
			;
		UART_THR = (uint8_t)*s;
	}
}

static uint16_t last_used;

/* One request: header, optional data segment, status byte. */
static void request(uint32_t type, uint64_t sector, uint8_t *buf, int step)
{
	int n = 0;
	hdr.type = type;
	hdr.reserved = 0;
	hdr.sector = sector;
	status = 0xff;
	descs[0] = (struct desc){ (uint64_t)(uintptr_t)&hdr, sizeof(hdr), F_NEXT, 1 };
	if (buf) {
		descs[1] = (struct desc){ (uint64_t)(uintptr_t)buf, 512,
					  (uint16_t)(F_NEXT | (type == T_IN ? F_WRITE : 0)), 2 };
		n = 1;
	}
	descs[n + 1] = (struct desc){ (uint64_t)(uintptr_t)&status, 1, F_WRITE, 0 };
	if (!buf)
		descs[0].next = 2;
	avail.ring[avail.idx % QSIZE] = 0;
	__sync_synchronize();
	avail.idx++;
	__sync_synchronize();
	MMIO(QUEUE_NOTIFY) = 0;
	for (uint64_t spins = 0; *(volatile uint16_t *)&used.idx == last_used; spins++)
		if (spins > 400000000ULL)
			fail(step);
	last_used++;
	MMIO(INT_ACK) = MMIO(INT_STATUS);
	if (status != 0)
		fail(step + 1);
}

void main(void)
{
	/* The first slot holding a virtio-blk device (QEMU fills slots from the top). */
	for (int n = 0; n < 8 && !base; n++)
		if (SLOT(n, MAGIC) == 0x74726976 && SLOT(n, DEVICE_ID) == 2)
			base = 0x10001000UL + 0x1000UL * n;
	if (!base || MMIO(VERSION) != 2)
		fail(1);
	MMIO(STATUS) = 0;
	MMIO(STATUS) = S_ACK;
	MMIO(STATUS) = S_ACK | S_DRIVER;
	MMIO(DEV_FEATURES_SEL) = 1;
	if (!(MMIO(DEV_FEATURES) & 1)) /* VERSION_1 is feature bit 32 */
		fail(2);
	MMIO(DRV_FEATURES_SEL) = 0;
	MMIO(DRV_FEATURES) = 0;
	MMIO(DRV_FEATURES_SEL) = 1;
	MMIO(DRV_FEATURES) = 1;
	MMIO(STATUS) = S_ACK | S_DRIVER | S_FEATURES_OK;
	if (!(MMIO(STATUS) & S_FEATURES_OK))
		fail(3);
	MMIO(QUEUE_SEL) = 0;
	if (MMIO(QUEUE_NUM_MAX) < QSIZE)
		fail(4);
	MMIO(QUEUE_NUM) = QSIZE;
	MMIO(DESC_LO) = (uint32_t)(uintptr_t)descs;
	MMIO(DESC_HI) = 0;
	MMIO(AVAIL_LO) = (uint32_t)(uintptr_t)&avail;
	MMIO(AVAIL_HI) = 0;
	MMIO(USED_LO) = (uint32_t)(uintptr_t)&used;
	MMIO(USED_HI) = 0;
	MMIO(QUEUE_READY) = 1;
	MMIO(STATUS) = S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK;

	const char *pattern = "kemu disk test";
	for (int i = 0; i < 512; i++)
		data[i] = (uint8_t)(pattern[i % 14]);
	request(T_OUT, 1, data, 10);
	request(T_IN, 1, check, 20);
	for (int i = 0; i < 512; i++)
		if (check[i] != data[i])
			fail(30);
	request(T_FLUSH, 0, 0, 40);
	puts_uart("disk ok\n");
	TEST_DEV = 0x5555;
	for (;;)
		;
}
