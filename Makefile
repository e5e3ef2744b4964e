# kemu: top-level build. `make` builds kemu.ko and kemuctl; `make test` runs every test;
# `make demo` shows the module at work in the test VM. See README.md.
#
# KDIR: build tree of a Rust-enabled kernel (CONFIG_RUST=y). Default: kemu's own test
# kernel, built once and cached in $(KEMU_CACHE) (~/.cache/kemu) by tests/vm/build-kernel.sh.
# MO: where the module's objects go (default: target/kmod/<kernel>), so builds against
# different kernels do not clobber each other.

SHELL := /bin/bash
REPO := $(CURDIR)
VARIANT ?= base
KMAKE_ARGS := LLVM=-19 RUSTC=/usr/bin/rustc HOSTRUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc \
	RUST_LIB_SRC=/usr/src/rustc-1.96.0/library BINDGEN=bindgen
export PATH := $(HOME)/.cargo/bin:$(PATH)

ifeq ($(origin KDIR), undefined)
KDIR_FROM_CACHE := 1
KDIR = $(shell tests/vm/build-kernel.sh --variant $(VARIANT) --print-dir)
endif
MO ?= $(REPO)/target/kmod/$(notdir $(KDIR))

HOST_TARGET := x86_64-unknown-linux-gnu
STATIC_BIN := $(REPO)/target/$(HOST_TARGET)/release

.PHONY: all setup kernel module kemuctl guest test test-cargo test-vm test-guest test-bench bench demo clean

all: module kemuctl

setup:
	tests/vm/setup-host.sh

kernel: setup
ifdef KDIR_FROM_CACHE
	tests/vm/build-kernel.sh --variant $(VARIANT)
endif

# Builds kemu.ko; any compiler warning fails the build. MODULE_SRC: the module's source
# tree (default: this one; the VM tests build an older release's from `git archive`).
MODULE_SRC ?= $(REPO)
module: kernel
	@mkdir -p $(MO)
	set -o pipefail; $(MAKE) -C $(KDIR) M=$(MODULE_SRC) MO=$(MO) $(KMAKE_ARGS) modules 2>&1 | tee $(MO)/build.log
	@if grep -q "warning:" $(MO)/build.log; then echo "kemu.ko built with warnings" >&2; exit 1; fi
	@echo "built $(MO)/kemu.ko"

# kemuctl and the VM test program, statically linked so they run inside the test VM
# (RUSTFLAGS replaces .cargo/config.toml's flags: repeated here).
kemuctl:
	RUSTFLAGS="-C target-feature=+crt-static -Cllvm-args=-enable-tail-merge=false" cargo build --release --target $(HOST_TARGET) \
		-p kemuctl -p kemu-vmtest
	@echo "built $(STATIC_BIN)/kemuctl"

test-cargo:
	cargo test --workspace
	cargo clippy --workspace --all-targets -- -D warnings

test-vm: setup
	tests/vm/run-tests.sh

# The riscv64 test guest (Debian's kernel, busybox, ext4 image), cached in $(KEMU_CACHE).
guest: setup
	tests/guest/build-guest.sh

# The guest's own checks, under the reference runner (QEMU) and under `kemuctl run`.
test-guest: setup
	tests/guest/run-guest-tests.sh --runner qemu
	tests/guest/run-guest-tests.sh --runner kemu-run

# Benchmarks: kernel (kemu.ko) vs user (kemuctl run) vs QEMU, in the x86 test VM and on
# this host; table on stdout, bench/results/<date>.{json,md,svg}. BENCH_ARGS: e.g.
# `--runs 3 --warmup 1`, `--only host`, `--mitigations on`. See bench/run-bench.sh.
bench: setup
	bench/run-bench.sh $(BENCH_ARGS)

# One-iteration smoke of `make bench` (small workloads, base test kernel): checks that
# every configuration produces every number; never asserts timings.
test-bench: setup
	bench/run-bench.sh --smoke

test: setup test-cargo test-guest test-vm test-bench

demo: setup
	tests/vm/run-tests.sh --demo

clean:
	cargo clean
	rm -rf target
