// SPDX-License-Identifier: GPL-2.0
// A bare-metal virtio-blk driver in miniature (virtio 1.x, virtio-mmio version 2, split
// queue): negotiates VERSION_1, sets up queue 0, writes a pattern to sector 1, reads it
// back, flushes, prints "disk ok" on the UART and powers off. Any failure reports its
// step number through the SiFive test device: (step << 16) | 0x3333.
#include "virtio-blk.h"

static uintptr_t base; /* the virtio-mmio slot holding the disk */
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
	uint32_t step;

	base = vblk_setup(descs, &avail, &used, QSIZE, &step);
	if (!base)
		fail(step);

	const char *pattern = "kemu disk test";
	for (int i = 0; i < 512; i++)
		data[i] = (uint8_t)(pattern[i % 14]);
	request(T_OUT, 1, data, 10);
	request(T_IN, 1, check, 20);
	for (int i = 0; i < 512; i++)
		if (check[i] != data[i])
			fail(30);
	request(T_FLUSH, 0, 0, 40);
	uart_puts("disk ok\n");
	TEST_DEV = 0x5555;
	for (;;)
		;
}
