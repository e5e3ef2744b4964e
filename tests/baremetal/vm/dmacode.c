// SPDX-License-Identifier: GPL-2.0
// Code loaded by disk DMA over code that already ran (issue: translated code must be
// dropped before the used ring says the read is done). A page of RAM holds
// `li a0, 1; ret`; the guest calls it (so it is translated), reads sector 0 of the disk
// over it (the test put `li a0, 2; ret` there), polls the used ring with interrupts
// off, and calls it again at once: it must return 2. Prints "dmacode ok" and powers
// off; failures report their step through the SiFive test device ((step << 16) | 0x3333).
#include "virtio-blk.h"

static uintptr_t base;
#define MMIO(off) (*(volatile uint32_t *)(base + (off)))

static struct desc descs[QSIZE] __attribute__((aligned(16)));
static struct avail avail __attribute__((aligned(2)));
static struct used used __attribute__((aligned(4)));
static struct req hdr;
static volatile uint8_t status;
/* The code page: its own 4 KiB, away from the program and its data. */
static uint32_t code[1024] __attribute__((aligned(4096)));

static void fail(uint32_t step)
{
	TEST_DEV = (step << 16) | 0x3333;
	for (;;)
		;
}

static long call_code(void)
{
	long (*f)(void) = (long (*)(void))(uintptr_t)code;
	__asm__ volatile("fence.i" ::: "memory");
	return f();
}

void main(void)
{
	uint32_t step;

	base = vblk_setup(descs, &avail, &used, QSIZE, &step);
	if (!base)
		fail(step);
	avail.flags = 1; /* VIRTQ_AVAIL_F_NO_INTERRUPT: the guest polls */

	code[0] = 0x00100513; /* li a0, 1 */
	code[1] = 0x00008067; /* ret */
	for (int i = 0; i < 1000; i++) /* hot enough for tier 2 at threshold 1 */
		if (call_code() != 1)
			fail(2);

	hdr.type = T_IN;
	hdr.sector = 0;
	status = 0xff;
	descs[0] = (struct desc){ (uint64_t)(uintptr_t)&hdr, sizeof(hdr), F_NEXT, 1 };
	descs[1] = (struct desc){ (uint64_t)(uintptr_t)code, 4096, F_NEXT | F_WRITE, 2 };
	descs[2] = (struct desc){ (uint64_t)(uintptr_t)&status, 1, F_WRITE, 0 };
	avail.ring[0] = 0;
	__sync_synchronize();
	avail.idx = 1;
	__sync_synchronize();
	MMIO(QUEUE_NOTIFY) = 0;
	while (*(volatile uint16_t *)&used.idx == 0)
		;
	long r = call_code();
	if (status != 0)
		fail(3);
	if (r != 2)
		fail(4); /* the old code ran: stale translation */
	uart_puts("dmacode ok\n");
	TEST_DEV = 0x5555;
	for (;;)
		;
}
