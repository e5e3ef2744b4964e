// SPDX-License-Identifier: GPL-2.0
// What kemu's bare-metal virtio-blk test guests share: the virt board's addresses, the
// virtio-mmio version 2 registers, and the split-queue layout (virtio 1.x, section 2.7).
// Used by tests/baremetal/vm/{diskio,dmastorm,dmacode}.c and tests/baremetal/run/multidisk.c.
#include <stdint.h>

#define UART_THR (*(volatile uint8_t *)0x10000000UL)
#define UART_LSR (*(volatile uint8_t *)0x10000005UL)
#define TEST_DEV (*(volatile uint32_t *)0x100000UL)

enum { MAGIC = 0x000, VERSION = 0x004, DEVICE_ID = 0x008, DEV_FEATURES = 0x010,
       DEV_FEATURES_SEL = 0x014, DRV_FEATURES = 0x020, DRV_FEATURES_SEL = 0x024,
       QUEUE_SEL = 0x030, QUEUE_NUM_MAX = 0x034, QUEUE_NUM = 0x038, QUEUE_READY = 0x044,
       QUEUE_NOTIFY = 0x050, INT_STATUS = 0x060, INT_ACK = 0x064, STATUS = 0x070,
       DESC_LO = 0x080, DESC_HI = 0x084, AVAIL_LO = 0x090, AVAIL_HI = 0x094,
       USED_LO = 0x0a0, USED_HI = 0x0a4 };
enum { S_ACK = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FEATURES_OK = 8 };
enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4 };
enum { F_NEXT = 1, F_WRITE = 2 };
#define QSIZE 8

struct desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
struct avail { uint16_t flags, idx, ring[QSIZE]; };
struct used_elem { uint32_t id, len; };
struct used { uint16_t flags, idx; struct used_elem ring[QSIZE]; };
struct req { uint32_t type, reserved; uint64_t sector; };

#define VBLK_SLOT(n, off) (*(volatile uint32_t *)(0x10001000UL + 0x1000UL * (n) + (off)))
#define VBLK_REG(base, off) (*(volatile uint32_t *)((base) + (off)))

/* Prints a string on the UART. */
static inline void uart_puts(const char *s)
{
	for (; *s; s++) {
		while (!(UART_LSR & 0x20))
			;
		UART_THR = (uint8_t)*s;
	}
}

/*
 * Finds the first virtio-mmio slot holding a virtio-blk device (QEMU fills slots from the
 * top), negotiates VERSION_1 only and sets up queue 0 with qsize entries at the given
 * tables. Returns the slot's base address, or 0 and the failing step in *step: 1 no
 * device, 2 no VERSION_1, 3 features refused, 4 queue too small.
 */
static inline uintptr_t vblk_setup(void *descs, void *avail, void *used, uint32_t qsize, uint32_t *step)
{
	uintptr_t base = 0;

	for (int n = 0; n < 8 && !base; n++)
		if (VBLK_SLOT(n, MAGIC) == 0x74726976 && VBLK_SLOT(n, DEVICE_ID) == 2)
			base = 0x10001000UL + 0x1000UL * n;
	*step = 1;
	if (!base || VBLK_REG(base, VERSION) != 2)
		return 0;
	VBLK_REG(base, STATUS) = 0;
	VBLK_REG(base, STATUS) = S_ACK;
	VBLK_REG(base, STATUS) = S_ACK | S_DRIVER;
	VBLK_REG(base, DEV_FEATURES_SEL) = 1;
	*step = 2;
	if (!(VBLK_REG(base, DEV_FEATURES) & 1)) /* VERSION_1 is feature bit 32 */
		return 0;
	VBLK_REG(base, DRV_FEATURES_SEL) = 0;
	VBLK_REG(base, DRV_FEATURES) = 0;
	VBLK_REG(base, DRV_FEATURES_SEL) = 1;
	VBLK_REG(base, DRV_FEATURES) = 1;
	VBLK_REG(base, STATUS) = S_ACK | S_DRIVER | S_FEATURES_OK;
	*step = 3;
	if (!(VBLK_REG(base, STATUS) & S_FEATURES_OK))
		return 0;
	VBLK_REG(base, QUEUE_SEL) = 0;
	*step = 4;
	if (VBLK_REG(base, QUEUE_NUM_MAX) < qsize)
		return 0;
	VBLK_REG(base, QUEUE_NUM) = qsize;
	VBLK_REG(base, DESC_LO) = (uint32_t)(uintptr_t)descs;
	VBLK_REG(base, DESC_HI) = 0;
	VBLK_REG(base, AVAIL_LO) = (uint32_t)(uintptr_t)avail;
	VBLK_REG(base, AVAIL_HI) = 0;
	VBLK_REG(base, USED_LO) = (uint32_t)(uintptr_t)used;
	VBLK_REG(base, USED_HI) = 0;
	VBLK_REG(base, QUEUE_READY) = 1;
	VBLK_REG(base, STATUS) = S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK;
	*step = 0;
	return base;
}

