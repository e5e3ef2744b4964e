// SPDX-License-Identifier: GPL-2.0
// float: a double-precision floating-point benchmark for kemu's guest. It integrates a
// small gravitational n-body system (one heavy central body and NBODY-1 light ones on
// roughly circular orbits, softened pairwise forces, semi-implicit Euler steps) for a
// fixed number of steps, which exercises add, sub, mul, div and sqrt on doubles, then
// prints how long that took on the guest's monotonic clock and a checksum of the final
// state:
//
//   float [STEPS]  ->  "float: NBODY bodies, STEPS steps in M ms, energy E"
//                      "float: checksum 0x<64-bit hash of the final positions/velocities>"
//                      "KEMU-BENCH float_ms M ms"
//
// The result is meant to be bit-identical on every IEEE 754 machine: only +, -, *, / and
// sqrt (all correctly rounded), a fixed evaluation order, no libm function other than
// sqrt, and the build must not contract a*b+c into fused multiply-adds
// (-ffp-contract=off). The system is chaotic, so one wrongly rounded operation anywhere
// changes the checksum: kemu's benchmark compares the guest's checksum with the one the
// same program prints when built natively for the host (build-guest.sh's float-native).
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NBODY 16
#define DEFAULT_STEPS 50000

struct body {
	double x[3], v[3], a[3], m;
};

static struct body b[NBODY];
static const double dt = 1.0 / 1024.0;  // exact in binary
static const double soft2 = 1.0 / 64.0; // softening length squared, exact

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

// A small linear congruential generator: the initial state comes from integers only,
// so it is the same everywhere before the first floating-point operation.
static uint32_t lcg_state = 12345;
static int lcg(int lo, int hi)
{
	lcg_state = lcg_state * 1103515245u + 12345u;
	return lo + (int)((lcg_state >> 8) % (uint32_t)(hi - lo + 1));
}

static void init(void)
{
	memset(b, 0, sizeof(b));
	b[0].m = 1000.0;
	for (int i = 1; i < NBODY; i++) {
		b[i].m = lcg(1, 100) / 100.0;
		// Radius 2..10 in the xy plane, a small z offset.
		double r = lcg(200, 1000) / 100.0;
		double cx = lcg(-1000, 1000), cy = lcg(-1000, 1000);
		double n = sqrt(cx * cx + cy * cy) + 1.0;
		b[i].x[0] = r * cx / n;
		b[i].x[1] = r * cy / n;
		b[i].x[2] = lcg(-100, 100) / 1000.0;
		// Roughly circular speed around the central mass, perpendicular to the radius.
		double d = sqrt(b[i].x[0] * b[i].x[0] + b[i].x[1] * b[i].x[1]);
		double s = sqrt(b[0].m / d);
		b[i].v[0] = -s * b[i].x[1] / d;
		b[i].v[1] = s * b[i].x[0] / d;
		b[i].v[2] = lcg(-100, 100) / 10000.0;
	}
	// Give the central body the opposite total momentum so the system stays put.
	for (int k = 0; k < 3; k++) {
		double p = 0.0;
		for (int i = 1; i < NBODY; i++)
			p += b[i].m * b[i].v[k];
		b[0].v[k] = -p / b[0].m;
	}
}

static void step(void)
{
	for (int i = 0; i < NBODY; i++)
		b[i].a[0] = b[i].a[1] = b[i].a[2] = 0.0;
	for (int i = 0; i < NBODY; i++) {
		for (int j = i + 1; j < NBODY; j++) {
			double dx = b[j].x[0] - b[i].x[0];
			double dy = b[j].x[1] - b[i].x[1];
			double dz = b[j].x[2] - b[i].x[2];
			double r2 = dx * dx + dy * dy + dz * dz + soft2;
			double r = sqrt(r2);
			double inv3 = 1.0 / (r2 * r);
			double fi = b[j].m * inv3, fj = b[i].m * inv3;
			b[i].a[0] += dx * fi;
			b[i].a[1] += dy * fi;
			b[i].a[2] += dz * fi;
			b[j].a[0] -= dx * fj;
			b[j].a[1] -= dy * fj;
			b[j].a[2] -= dz * fj;
		}
	}
	for (int i = 0; i < NBODY; i++) {
		for (int k = 0; k < 3; k++) {
			b[i].v[k] += b[i].a[k] * dt;
			b[i].x[k] += b[i].v[k] * dt;
		}
	}
}

static double energy(void)
{
	double e = 0.0;
	for (int i = 0; i < NBODY; i++) {
		double v2 = b[i].v[0] * b[i].v[0] + b[i].v[1] * b[i].v[1] + b[i].v[2] * b[i].v[2];
		e += 0.5 * b[i].m * v2;
		for (int j = i + 1; j < NBODY; j++) {
			double dx = b[j].x[0] - b[i].x[0];
			double dy = b[j].x[1] - b[i].x[1];
			double dz = b[j].x[2] - b[i].x[2];
			e -= b[i].m * b[j].m / sqrt(dx * dx + dy * dy + dz * dz + soft2);
		}
	}
	return e;
}

// FNV-1a over the bit patterns of every final position and velocity.
static uint64_t checksum(void)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (int i = 0; i < NBODY; i++) {
		double vals[6] = { b[i].x[0], b[i].x[1], b[i].x[2], b[i].v[0], b[i].v[1], b[i].v[2] };
		for (int k = 0; k < 6; k++) {
			uint64_t bits;
			memcpy(&bits, &vals[k], sizeof(bits));
			for (int byte = 0; byte < 8; byte++) {
				h ^= (bits >> (8 * byte)) & 0xff;
				h *= 0x100000001b3ULL;
			}
		}
	}
	return h;
}

int main(int argc, char **argv)
{
	long steps = argc > 1 ? atol(argv[1]) : DEFAULT_STEPS;
	if (argc > 2 || steps < 1 || steps > 1000000000L) {
		fprintf(stderr, "usage: float [STEPS]   (1..1000000000, default %d)\n", DEFAULT_STEPS);
		return 2;
	}
	long long start = now_us();
	init();
	for (long s = 0; s < steps; s++)
		step();
	double e = energy();
	long long us = now_us() - start;
	printf("float: %d bodies, %ld steps in %lld.%03lld ms, energy %.17g\n", NBODY, steps,
	       us / 1000, us % 1000, e);
	printf("float: checksum 0x%016llx\n", (unsigned long long)checksum());
	printf("KEMU-BENCH float_ms %lld.%03lld ms\n", us / 1000, us % 1000);
	return 0;
}
