// SPDX-License-Identifier: GPL-2.0
/*
 * kemu's tier 2 (ktranslator/src/tier2.rs) hands hot guest blocks, lowered to eBPF, to
 * the kernel's BPF JIT. The BPF structures are only reachable from C, so this shim is
 * the whole C side: allocate a program, copy the instructions, JIT it, free it. No
 * verifier runs (the programs are safe by construction, ktranslator/src/ebpf.rs), and
 * nothing is ever attached or exposed to userspace.
 */
#include <linux/filter.h>

/* Called from Rust (rust/jit.rs declares the same prototypes). */
void *kemu_bpf_compile(const u64 *insns, u32 n, void **entry);
void kemu_bpf_free(void *prog);
s32 kemu_bpf_call_imm(const void *fn);

/*
 * Compiles n instructions; returns the program (the handle for kemu_bpf_free) and its
 * native entry in *entry, or NULL if the kernel did not JIT it (the JIT is off, or it
 * refused the program). Sleeps (allocates with GFP_KERNEL).
 */
void *kemu_bpf_compile(const u64 *insns, u32 n, void **entry)
{
	struct bpf_prog *prog;
	int err = 0;

	*entry = NULL;
	if (n == 0 || n > BPF_MAXINSNS * 16)
		return NULL;
	prog = bpf_prog_alloc(bpf_prog_size(n), 0);
	if (!prog)
		return NULL;
	memcpy(prog->insnsi, insns, array_size(n, sizeof(struct bpf_insn)));
	prog->len = n;
	prog = bpf_prog_select_runtime(prog, &err);
	if (err || !prog->jited) {
		bpf_prog_free(prog);
		return NULL;
	}
	*entry = prog->bpf_func;
	return prog;
}

/* Releases a program from kemu_bpf_compile (its image is freed from a workqueue). */
void kemu_bpf_free(void *prog)
{
	bpf_prog_free(prog);
}

/*
 * The BPF_CALL immediate that makes JIT-compiled code call fn, or 0 if fn is out of the
 * +-2 GiB range the immediate covers.
 */
s32 kemu_bpf_call_imm(const void *fn)
{
	long d = (long)fn - (long)__bpf_call_base;

	if (d == 0 || d < S32_MIN || d > S32_MAX)
		return 0;
	return (s32)d;
}
