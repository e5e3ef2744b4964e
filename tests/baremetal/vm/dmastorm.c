// SPDX-License-Identifier: GPL-2.0
// A hostile virtio-blk driver (STOP latency): one request chain reading the first 256 MiB
// of the disk (16 segments of the same 16 MiB buffer), put in the available ring 256
// times at once: 64 GiB of I/O for the DMA thread. Prints "storm queued" and spins;
// the test stops the VM meanwhile. Failures report their step through the SiFive test
// device: (step << 16) | 0x3333.
#include "virtio-blk.h"

#define N 256
#define SEGS 16
#define SEG_BYTES (16u << 20)
#define BUF 0x81000000UL /* 16 MiB of RAM above the program (run with --mem 64M) */

static uintptr_t base;
#define MMIO(off) (*(volatile uint32_t *)(base + (off)))

static struct desc descs[N] __attribute__((aligned(16)));
static struct { uint16_t flags, idx, ring[N]; } avail __attribute__((aligned(2)));
static struct { uint16_t flags, idx; struct used_elem ring[N]; } used __attribute__((aligned(4)));
static struct req hdr;
static volatile uint8_t status;

static void fail(uint32_t step)
{
	TEST_DEV = (step << 16) | 0x3333;
	for (;;)
		;
}

void main(void)
{
	uint32_t step;

	base = vblk_setup(descs, &avail, &used, N, &step);
	if (!base)
		fail(step);

	hdr.type = T_IN;
	hdr.sector = 0;
	descs[0] = (struct desc){ (uint64_t)(uintptr_t)&hdr, sizeof(hdr), F_NEXT, 1 };
	for (int i = 1; i <= SEGS; i++)
		descs[i] = (struct desc){ BUF, SEG_BYTES, F_NEXT | F_WRITE, (uint16_t)(i + 1) };
	descs[SEGS + 1] = (struct desc){ (uint64_t)(uintptr_t)&status, 1, F_WRITE, 0 };
	for (int i = 0; i < N; i++)
		avail.ring[i] = 0;
	__sync_synchronize();
	avail.idx = N;
	__sync_synchronize();
	MMIO(QUEUE_NOTIFY) = 0;
	uart_puts("storm queued\n");
	for (;;)
		;
}
