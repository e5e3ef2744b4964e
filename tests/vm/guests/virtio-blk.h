// SPDX-License-Identifier: GPL-2.0
// What kemu's bare-metal virtio-blk test guests share: the virt board's addresses, the
// virtio-mmio version 2 registers, and the split-queue layout (virtio 1.x, section 2.7).
// Used by tests/vm/guests/diskio.c and userspace-ctl/tests/guests/multidisk.c.
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
