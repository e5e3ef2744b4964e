# kemu: top-level build. `make` builds kemu.ko and kemuctl; `make test` runs every test;
# `make demo` shows the module at work in a VM running Debian's own kernel. See README.md.
#
# Which kernel kemu.ko is built for, first match wins:
#   KDIR=/path/to/build      a Rust-enabled kernel build tree (CONFIG_RUST=y) of your own;
#   DEBIAN_KERNEL=RELEASE    one of Debian's stock kernels (e.g. 7.3.4+deb13-cloud-amd64),
#                            default when the running kernel is Debian's (uname -r): its
#                            Rust metadata is rebuilt once with Debian's toolchain and cached
#                            (scripts/debian/kdir.sh);
#   otherwise                kemu's own test kernel (VARIANT=base|kasan), built once and
#                            cached in $(KEMU_CACHE) (~/.cache/kemu) by tests/vm/build-kernel.sh.
# MO: where the module's objects go (default: target/kmod/<kernel>), so builds against
# different kernels do not clobber each other.

SHELL := /bin/bash
REPO := $(CURDIR)
VARIANT ?= base
KMAKE_ARGS := LLVM=-19 RUSTC=/usr/bin/rustc HOSTRUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc \
	RUST_LIB_SRC=/usr/src/rustc-1.96.0/library BINDGEN=bindgen
export PATH := $(HOME)/.cargo/bin:$(PATH)

ifeq ($(origin KDIR), undefined)
ifeq ($(origin DEBIAN_KERNEL), undefined)
DEBIAN_KERNEL := $(filter 7.3.%,$(filter %+deb13-amd64 %+deb13-cloud-amd64 %+deb13-rt-amd64,$(shell uname -r)))
endif
ifneq ($(DEBIAN_KERNEL),)
# Debian's kernels are built with trixie's rustc 1.85.1 and gcc-14: kemu.ko is built with
# the same (on a trixie host its own tools, elsewhere a cached trixie build root).
KDIR_DEBIAN := 1
# (Evaluated once, when first used.)
KDIR = $(eval KDIR := $$(shell scripts/debian/kdir.sh --print-dir $(DEBIAN_KERNEL)))$(KDIR)
KBUILD_CMD := scripts/debian/trixie-root.sh -- $(MAKE) CC=gcc-14 HOSTCC=gcc-14 RUSTC=rustc HOSTRUSTC=rustc \
	BINDGEN=bindgen
else
KDIR_FROM_CACHE := 1
KDIR = $(eval KDIR := $$(shell tests/vm/build-kernel.sh --variant $(VARIANT) --print-dir))$(KDIR)
endif
endif
KBUILD_CMD ?= $(MAKE) $(KMAKE_ARGS)
MO ?= $(REPO)/target/kmod/$(notdir $(KDIR))

HOST_TARGET := x86_64-unknown-linux-gnu
STATIC_BIN := $(REPO)/target/$(HOST_TARGET)/release

.PHONY: all setup kernel module kemuctl install test-msrv test-dkms guest test test-cargo test-vm test-guest test-bench bench demo clean

all: module kemuctl

setup:
	tests/vm/setup-host.sh

kernel:
ifdef KDIR_FROM_CACHE
	@echo "make module: the running kernel ($(shell uname -r)) is not one of Debian's 7.3.4+deb13 kernels," \
		"so kemu.ko is built for kemu's own test kernel (VARIANT=$(VARIANT));" \
		"DEBIAN_KERNEL=RELEASE or KDIR=DIR builds it for another (docs/install.md)"
	tests/vm/setup-host.sh
	tests/vm/build-kernel.sh --variant $(VARIANT)
endif
ifdef KDIR_DEBIAN
	scripts/debian/kdir.sh $(DEBIAN_KERNEL)
endif

# Builds kemu.ko; any compiler warning fails the build. MODULE_SRC: the module's source
# tree (default: this one; the VM tests build an older release's from `git archive`).
MODULE_SRC ?= $(REPO)
module: kernel
	@mkdir -p $(MO)
	set -o pipefail; $(KBUILD_CMD) -C $(KDIR) M=$(MODULE_SRC) MO=$(MO) modules 2>&1 | tee $(MO)/build.log
	@if grep -q "warning:" $(MO)/build.log; then echo "kemu.ko built with warnings" >&2; exit 1; fi
	scripts/check-module.sh $(MO)/kemu.ko $(KDIR)
	@echo "built $(MO)/kemu.ko"

# kemuctl and the VM test program, statically linked so they run inside the test VM
# (RUSTFLAGS replaces .cargo/config.toml's flags: repeated here).
kemuctl:
	RUSTFLAGS="-C target-feature=+crt-static -Cllvm-args=-enable-tail-merge=false" cargo build --release --target $(HOST_TARGET) \
		-p kemuctl -p kemu-vmtest
	@echo "built $(STATIC_BIN)/kemuctl"

# kemu.ko under /lib/modules/<its kernel>/updates/ (then `modprobe kemu`), kemuctl under
# $(PREFIX)/bin. DESTDIR stages both elsewhere (no depmod then).
PREFIX ?= /usr/local
install: module kemuctl
	@krel=$$(cat $(KDIR)/include/config/kernel.release) && \
	install -D -m 0644 $(MO)/kemu.ko $(DESTDIR)/lib/modules/$$krel/updates/kemu.ko && \
	if [ -z "$(DESTDIR)" ]; then depmod -a $$krel; fi && \
	echo "installed $(DESTDIR)/lib/modules/$$krel/updates/kemu.ko"
	install -D -m 0755 $(STATIC_BIN)/kemuctl $(DESTDIR)$(PREFIX)/bin/kemuctl
	@echo "installed $(DESTDIR)$(PREFIX)/bin/kemuctl"

# Everything builds with rustc 1.85 (the workspace's rust-version; Debian's kernels are
# built with trixie's 1.85.1, and so are the shared crates inside kemu.ko for them):
# built with trixie's cargo in the build root. Not kemu-ebpf-jit's tests: their reference
# interpreter, rbpf 0.4, needs a newer compiler (its library is built).
KEMU_CACHE ?= $(HOME)/.cache/kemu
test-msrv:
	CARGO_HOME=$(KEMU_CACHE)/cargo-1.85 scripts/debian/trixie-root.sh -- bash -euc \
		'cargo build --locked --workspace --all-targets --exclude kemu-ebpf-jit --target-dir target/rust-1.85; \
		 cargo build --locked -p kemu-ebpf-jit --lib --target-dir target/rust-1.85; \
		 rustc --version; rustc --version | grep -q "^rustc 1\.85\."'

# DKMS on Debian: dkms.conf builds and installs kemu.ko for Debian's cloud kernel, inside
# the trixie build root (as on a trixie machine; on a throwaway overlay of it, so that
# installing dkms and the headers leaves the cached toolchain as it was).
test-dkms:
	KEMU_ROOT_OVERLAY=1 scripts/debian/trixie-root.sh -- tests/debian/dkms.sh $$(scripts/debian/kdir.sh --latest cloud-amd64)

test-cargo:
	cargo test --workspace
	# kemu.ko builds the translator with hot-dispatch (Kbuild): its tests run that way too.
	cargo test -p ktranslator --features hot-dispatch
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

test: setup test-cargo test-msrv test-dkms test-guest test-vm test-bench

demo: setup
	tests/vm/run-tests.sh --demo

clean:
	cargo clean
	rm -rf target
